"""Brat mention scoring against hand-computed cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.brat import DEFAULT_DIR, dev_slice, longest_first, read_ann, read_dir, score


def test_read_ann_maps_labels_and_skips_others(tmp_path: Path) -> None:
    ann = tmp_path / "d.ann"
    ann.write_text(
        "T1\tAge 0 5\t5-yea\nT2\tSign_symptom 10 15\tfever\n"
        "T3\tTherapeutic_procedure 20 25;30 35\tx y\nE1\tSign_symptom:T2\n",
        encoding="utf-8",
    )
    assert read_ann(ann) == [(10, 15, "DIAGNOSIS"), (20, 35, "PROCEDURE")]


def test_longest_first_removes_nested_spans() -> None:
    spans = [(0, 11, "DIAGNOSIS"), (6, 11, "DIAGNOSIS"), (6, 11, "PROCEDURE")]
    assert longest_first(spans) == [(0, 11, "DIAGNOSIS"), (6, 11, "PROCEDURE")]


def test_exact_and_overlap_scores_by_hand() -> None:
    gold = [(0, 10, "DIAGNOSIS"), (20, 30, "PROCEDURE")]
    predicted = [(0, 10, "DIAGNOSIS"), (22, 28, "PROCEDURE"), (40, 45, "DIAGNOSIS")]
    result = score([(predicted, gold)])
    assert result["exact"]["micro"] == pytest.approx(
        {"precision": 0.3333, "recall": 0.5, "f1": 0.4}, abs=1e-4
    )
    assert result["overlap"]["micro"]["precision"] == pytest.approx(0.6667, abs=1e-4)
    assert result["overlap"]["micro"]["recall"] == 1.0
    assert result["overlap"]["PROCEDURE"]["f1"] == 1.0


def test_vendored_maccrobat_dev_slice() -> None:
    docs = read_dir(DEFAULT_DIR)
    assert len(docs) == 160
    assert len(dev_slice(docs)) == 32
    doc = docs[0]
    assert all(doc.text[s:e] for s, e, _ in doc.spans)
