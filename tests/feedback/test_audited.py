"""Audited notes from decision exports: labels, last record wins, hold-out, bad files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cac.codesets.records import System
from cac.exports.decisions import (
    ExportedAddedCode,
    ExportedDecision,
    ExportedSuggestion,
    ExportedSuppression,
    NoteRecord,
)
from cac.feedback.audited import (
    AuditedDataError,
    evidence_spans,
    export_hash,
    is_holdout,
    labels,
    read_audited,
    restored,
)

T = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def decision(
    action: str, sequence: int = 1, system: str | None = None, code: str | None = None
) -> ExportedDecision:
    return ExportedDecision(
        id=sequence,
        sequence=sequence,
        action=action,  # type: ignore[arg-type]
        final_system=system,
        final_code=code,
        coder="jane",
        created_at=T,
        reason=None,
        supersedes=None,
    )


def suggestion(
    code: str,
    decisions: list[ExportedDecision],
    system: str = "icd10cm",
    evidence: tuple[int, int] = (0, 4),
) -> ExportedSuggestion:
    return ExportedSuggestion(
        id=abs(hash(code)) % 1000,
        rank=1,
        system=system,
        code=code,
        description="",
        confidence=0.5,
        shown=True,
        model_version="v",
        assertion="present",
        needs_specificity=False,
        evidence=[evidence],
        status="pending",
        decisions=decisions,
    )


def record(note_id: int, external_id: str, **kw: Any) -> NoteRecord:
    base: dict[str, Any] = {
        "export_id": "e1",
        "note_id": note_id,
        "external_id": external_id,
        "version": 1,
        "setting": "inpatient",
        "created_at": T,
        "text_sha256": "0" * 64,
        "model": {"ranker": "lgbm-ranker@abc"},
        "suggestions": [],
        "added": [],
    }
    return NoteRecord(**{**base, **kw})


def test_labels_follow_the_active_decision() -> None:
    rec = record(
        1,
        "n1",
        suggestions=[
            suggestion("I10", [decision("accept")]),
            suggestion("J18.9", [decision("reject")], evidence=(10, 19)),
            suggestion("R05.9", [decision("replace", 1, "icd10cm", "R05.1")]),
            suggestion("E11.9", [decision("reject"), decision("accept", 2)]),  # superseded
            suggestion("K35.80", [], evidence=(30, 40)),  # pending: says nothing
            suggestion("0DTJ4ZZ", [decision("accept")], system="icd10pcs"),
        ],
        added=[
            ExportedAddedCode(
                id=9,
                system="icd10cm",
                code="N18.3",
                description="",
                evidence=[],
                status="accepted",
                decisions=[decision("add", 1, "icd10cm", "N18.3")],
            )
        ],
    )
    final, rejected = labels(rec)
    cm, pcs = System.ICD10CM, System.ICD10PCS
    assert final == {(cm, "I10"), (cm, "R051"), (cm, "E119"), (pcs, "0DTJ4ZZ"), (cm, "N183")}
    assert rejected == {(cm, "J189"), (cm, "R059")}
    # rejected J18.9 (10-19) and pending K35.80 (30-40) add no mention
    assert evidence_spans(rec) == ((0, 4, "DIAGNOSIS"), (0, 4, "PROCEDURE"))


def write(path: Path, records: list[NoteRecord], text: str | None = None) -> Path:
    lines = [r.model_copy(update={"text": text}).to_json() for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_last_record_of_a_note_wins(tmp_path: Path) -> None:
    first = write(
        tmp_path / "a.jsonl",
        [record(1, "n1", suggestions=[suggestion("I10", [decision("reject")])])],
    )
    later = write(
        tmp_path / "b.jsonl",
        [
            record(
                1,
                "n1",
                suggestions=[suggestion("I10", [decision("reject"), decision("accept", 2)])],
            )
        ],
        text="hypertension",
    )
    [note] = read_audited([first, later])
    assert note.final == {(System.ICD10CM, "I10")} and note.text == "hypertension"
    assert export_hash([first, later]) != export_hash([later, first])


def test_holdout_is_fixed_by_external_id_and_about_thirty_percent() -> None:
    ids = [f"note-{i}" for i in range(2000)]
    share = sum(map(is_holdout, ids)) / len(ids)
    assert 0.25 < share < 0.35
    assert [is_holdout(i) for i in ids[:50]] == [is_holdout(i) for i in ids[:50]]


def test_a_bad_line_names_the_line_not_its_content(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"text": "patient John Smith"}\n', encoding="utf-8")
    with pytest.raises(AuditedDataError, match="line 1") as caught:
        read_audited([path])
    assert "John" not in str(caught.value)
    with pytest.raises(AuditedDataError, match="cannot read"):
        read_audited([tmp_path / "missing.jsonl"])


def test_a_restored_suppressed_code_is_final_and_listed_with_its_rule(tmp_path: Path) -> None:
    restore = decision("accept").model_copy(
        update={"restored_suppressed": True, "restored_rule": "integral.fever_infection"}
    )
    kept_back = suggestion("R50.9", [restore]).model_copy(
        update={
            "shown": False,
            "suppressed_by": ExportedSuppression(
                rule="integral.fever_infection", section="I.B.5", code="J18.9"
            ),
        }
    )
    undone = decision("accept").model_copy(
        update={"restored_suppressed": True, "restored_rule": "excludes1"}
    )
    later_rejected = suggestion("R51.9", [undone, decision("reject", 2)])
    rec = record(
        1, "n1", suggestions=[suggestion("J18.9", [decision("accept")]), kept_back, later_rejected]
    )
    cm = System.ICD10CM

    assert restored(rec) == (((cm, "R509"), "integral.fever_infection"),)
    [note] = read_audited([write(tmp_path / "x.jsonl", [rec])])
    assert note.restored == (((cm, "R509"), "integral.fever_infection"),)
    assert note.final == {(cm, "J189"), (cm, "R509")}


def test_a_version_1_export_still_reads(tmp_path: Path) -> None:
    line = {
        "format": "cac-decisions/1",
        "export_id": "e1",
        "note_id": 4,
        "external_id": "n4",
        "version": 1,
        "setting": "inpatient",
        "created_at": "2026-11-27T10:00:00Z",
        "text_sha256": "0" * 64,
        "model": {},
        "suggestions": [
            {
                "id": 1,
                "rank": 0,
                "system": "icd10cm",
                "code": "I10",
                "description": "",
                "confidence": 0.5,
                "shown": True,
                "model_version": "v",
                "assertion": "present",
                "needs_specificity": False,
                "evidence": [[0, 3]],
                "status": "accepted",
                "decisions": [
                    {
                        "id": 1,
                        "sequence": 1,
                        "action": "accept",
                        "final_system": "icd10cm",
                        "final_code": "I10",
                        "coder": "jane",
                        "created_at": "2026-11-27T10:05:00Z",
                        "reason": None,
                        "supersedes": None,
                    }
                ],
            }
        ],
        "added": [],
    }
    path = tmp_path / "v1.jsonl"
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")

    [note] = read_audited([path])

    assert note.final == {(System.ICD10CM, "I10")} and note.restored == ()
    assert note.spans == ((0, 3, "DIAGNOSIS"),)
