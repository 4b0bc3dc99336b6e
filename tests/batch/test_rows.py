"""The one conversion from a coded note to rows, and the reasons a note is refused."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from cac.batch.rows import ROW_SCHEMA, check_note, code_note
from tests.batch.fake_coder import FakeCoder


def test_rows_follow_the_coder_ranking_with_offsets_and_versions() -> None:
    records = code_note(FakeCoder(), "n1", "pneumonia and pneumonia", "inpatient")
    assert [(r["rank"], r["code"]) for r in records] == [(1, "J18.9"), (2, "J18.9")]
    assert records[1]["evidence"] == [{"start": 14, "end": 23, "kind": "mention"}]
    assert json.loads(records[0]["model"]) == {"fake": "1", "lexicon": "test"}
    assert all(r["error"] is None for r in records)
    assert set(ROW_SCHEMA.names) < set(records[0])


def test_a_note_without_suggestions_still_has_a_row() -> None:
    [record] = code_note(FakeCoder(), "n1", "nothing", "outpatient")
    assert record["note_id"] == "n1" and record["code"] is None and record["model"] is not None
    assert (record["rationale"], record["suppressed_by"], record["alternatives"]) == ([], None, [])


def test_rows_carry_rationale_suppression_alternatives_and_evidence_kinds() -> None:
    shown, kept_back = code_note(FakeCoder(), "n1", "Admitted with pneumonia.", "inpatient")
    assert shown["rationale"] == [
        {"rule": "cut.confidence", "section": "I.A.19", "detail": "the note states it"}
    ]
    assert (shown["suppressed_by"], shown["alternatives"]) == (None, [])
    assert (kept_back["code"], kept_back["shown"], kept_back["rationale"]) == ("R69", False, [])
    assert kept_back["suppressed_by"] == {
        "rule": "specificity.unspecified_beside_specific",
        "section": "I.A.9.b",
        "code": "J18.9",
        "detail": "J18.9 says more than R69",
    }
    assert kept_back["alternatives"] == ["R68.89"]
    assert kept_back["evidence"] == [{"start": 0, "end": 1, "kind": "abbreviation"}]
    table = pa.Table.from_pylist([shown, kept_back], schema=ROW_SCHEMA)
    assert table.to_pylist() == [{k: r[k] for k in ROW_SCHEMA.names} for r in (shown, kept_back)]


@pytest.mark.parametrize(
    ("note_id", "text", "setting", "expected"),
    [
        (None, "x", "inpatient", ("input", "missing id")),
        ("  ", "x", "inpatient", ("input", "missing id")),
        ("a", None, "inpatient", ("note", "missing text")),
        ("a", " \t\n", "inpatient", ("note", "the note is empty")),
        ("a", "bad \udcff surrogate", "inpatient", ("note", "text is not valid UTF-8")),
        ("a", "x", "icu", ("note", "setting must be inpatient or outpatient")),
        ("a", "x", "outpatient", None),
    ],
)
def test_check_note(note_id: str | None, text: str | None, setting: str, expected: object) -> None:
    assert check_note(note_id, text, setting) == expected


def test_coder_failures_become_error_records_without_the_text() -> None:
    [failure] = code_note(FakeCoder(), "p", "Jane Roe explode", "inpatient")
    assert (failure["error_kind"], failure["error"]) == ("failure", "the coder raised RuntimeError")
    [refused] = code_note(FakeCoder(), "q", "a\x00b", "inpatient")
    assert refused["error_kind"] == "note" and "NUL" in refused["error"]
    assert "Jane" not in json.dumps([failure, refused])
