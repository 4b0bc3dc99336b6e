"""Feedback-loop figures: acceptance by confidence, plots, and the notebook's code compiles."""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cac.exports.decisions import ExportedDecision, ExportedSuggestion, NoteRecord
from training import feedback_report as report

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "feedback_loop.ipynb"
T = datetime(2026, 11, 27, tzinfo=UTC)


def shown(confidence: float, action: str | None, shown: bool = True) -> ExportedSuggestion:
    decisions = (
        [
            ExportedDecision(
                id=1,
                sequence=1,
                action=action,
                final_system=None,
                final_code=None,  # type: ignore[arg-type]
                coder="c",
                created_at=T,
                reason=None,
                supersedes=None,
            )
        ]
        if action
        else []
    )
    return ExportedSuggestion(
        id=1,
        rank=1,
        system="icd10cm",
        code="I10",
        description="",
        confidence=confidence,
        shown=shown,
        model_version="v",
        assertion=None,
        needs_specificity=False,
        evidence=[],
        status="pending",
        decisions=decisions,
    )


def test_acceptance_counts_only_decided_shown_suggestions() -> None:
    record = NoteRecord(
        export_id="e",
        note_id=1,
        external_id="n",
        version=1,
        setting="inpatient",
        created_at=T,
        text_sha256="0" * 64,
        model={},
        added=[],
        suggestions=[
            shown(0.85, "accept"),
            shown(0.82, "reject"),
            shown(0.88, "accept"),
            shown(0.15, "replace"),
            shown(0.12, None),
            shown(0.9, "accept", shown=False),
        ],
    )
    bins = report.acceptance_by_confidence([record])
    high, low = bins[8], bins[1]
    assert (high.decided, high.accepted) == (3, 2)
    assert high.acceptance == pytest.approx(2 / 3)
    assert high.mean_confidence == pytest.approx((0.85 + 0.82 + 0.88) / 3)
    assert (low.decided, low.accepted) == (1, 0)  # a replacement is not an acceptance
    assert sum(b.decided for b in bins) == 4
    ece = report.expected_calibration_error(bins)
    assert ece == pytest.approx((3 * abs(0.85 - 2 / 3) + 1 * 0.15) / 4)


def test_plots_are_written(tmp_path: Path) -> None:
    bins = report.acceptance_by_confidence([])
    assert report.plot_acceptance(bins, tmp_path / "a.png").stat().st_size > 0
    figures = {"1": {"dev.D.map": 0.4, "audited.all.map": 0.3}, "2": {"dev.D.map": 0.41}}
    assert report.plot_versions(figures, tmp_path / "v.png").stat().st_size > 0


def test_the_notebook_is_valid_and_its_code_compiles() -> None:
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4
    cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert len(cells) >= 5
    for cell in cells:
        ast.parse("".join(cell["source"]))
