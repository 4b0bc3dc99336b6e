"""Batch rows carry their note's impact: the shown codes grouped and scored by the shared engine,
age and sex from the row (provisional without), the API's JSON, and refusals for bad values."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cac.api.schemas.impact import ImpactOut
from cac.batch.coder import CoderSpec
from cac.batch.impact import IMPACT_COLUMNS
from cac.batch.rows import ROW_SCHEMA, check_note, code_note, result_records
from cac.batch.runner import run_batch
from cac.codesets.records import System
from cac.coding.records import Demographics, Suggestion
from cac.impact import ImpactRequest, shared_engine
from tests.batch.conftest import write_jsonl
from tests.batch.fake_coder import FACTORY, CodingResult, FakeCoder


def _shown(code: str, system: System = System.ICD10CM) -> Suggestion:
    return Suggestion(system, code, code, 0.9, (), "present", False, False, True)


def test_every_row_of_a_note_carries_the_impact_of_its_shown_codes() -> None:
    engine = shared_engine()

    shown, kept_back = code_note(
        FakeCoder(), "n1", "Admitted with pneumonia.", "inpatient", engine=engine
    )

    expected = engine.assess(ImpactRequest(("J18.9",)))  # R69 is not shown: not in effect
    assert set(IMPACT_COLUMNS) <= set(ROW_SCHEMA.names)
    for row in (shown, kept_back):
        assert (row["principal"], row["drg"], row["drg_provisional"]) == ("J18.9", "195", True)
        assert row["drg_weight"] == expected.drg.weight  # type: ignore[union-attr]
        assert (row["hccs"], row["raf"], row["raf_disease"]) == ([], None, 0.0)
        assert row["impact"] == ImpactOut.of(expected).model_dump_json()
        assert json.loads(row["prompts"]) == json.loads(row["impact"])["prompts"]
    assert shown["cc_mcc"] is None and kept_back["cc_mcc"] is None


def test_age_and_sex_make_the_drg_final_and_give_the_raf() -> None:
    [row, _] = code_note(
        FakeCoder(), "n1", "pneumonia", "inpatient", 70, "female", engine=shared_engine()
    )

    assert row["drg_provisional"] is False
    assert row["raf"] is not None and row["raf"] > row["raf_disease"]


def test_each_row_names_its_codes_cc_mcc_and_the_note_its_hccs() -> None:
    engine = shared_engine()
    codes = ("J18.9", "J96.01", "E11.9", "I50.9", "N17.9")
    result = CodingResult([_shown(c) for c in codes], [])
    request = ImpactRequest(codes, (), "inpatient", Demographics(age=70, sex="female"))

    rows = result_records("n1", "inpatient", result, engine.assess(request))

    assert [(r["code"], r["cc_mcc"]) for r in rows] == [
        ("J18.9", None),
        ("J96.01", "MCC"),
        ("E11.9", None),
        ("I50.9", None),  # not a CC in MS-DRG v43.1
        ("N17.9", "CC"),
    ]
    assert {r["drg"] for r in rows} == {"193"}  # pneumonia with MCC
    assert rows[0]["hccs"] == ["38", "213", "226"]
    assert any(p["code"] == "I50.9" for p in json.loads(rows[0]["prompts"]))


def test_an_outpatient_note_has_hccs_and_no_drg() -> None:
    result = CodingResult([_shown("E11.9")], [])
    impact = shared_engine().assess(ImpactRequest(("E11.9",), (), "outpatient"))

    [row] = result_records("n1", "outpatient", result, impact)

    assert (row["drg"], row["drg_weight"], row["drg_provisional"]) == (None, None, None)
    assert (row["principal"], row["hccs"]) == ("E11.9", ["38"])


def test_a_note_without_a_shown_diagnosis_has_null_impact_columns() -> None:
    [row] = code_note(FakeCoder(), "n1", "nothing", "inpatient", engine=shared_engine())
    [unshown, *_] = code_note(FakeCoder(), "n2", "Fever.", "inpatient", engine=shared_engine())

    assert all(row[c] is None for c in IMPACT_COLUMNS)
    assert unshown["code"] == "R69" and all(unshown[c] is None for c in IMPACT_COLUMNS)


@pytest.mark.parametrize(
    ("age", "sex", "reason"),
    [
        (-1, None, "patient_age must be a whole number of years from 0 to 124"),
        (125, None, "patient_age must be a whole number of years from 0 to 124"),
        ("70", None, "patient_age must be a whole number of years from 0 to 124"),
        (True, None, "patient_age must be a whole number of years from 0 to 124"),
        (None, "F", "patient_sex must be one of male, female, other, unknown"),
    ],
)
def test_an_unreadable_age_or_sex_refuses_the_note(age: object, sex: object, reason: str) -> None:
    assert check_note("a", "x", "inpatient", age, sex) == ("note", reason)
    [record] = code_note(FakeCoder(), "a", "pneumonia", "inpatient", age, sex)
    assert (record["error_kind"], record["error"]) == ("note", reason)


def test_cac_batch_rows_take_age_and_sex_from_the_input(tmp_path: Path) -> None:
    notes = write_jsonl(
        tmp_path / "notes.jsonl",
        [
            json.dumps({"id": "old", "text": "pneumonia", "patient_age": 80}).encode(),
            json.dumps(
                {"id": "known", "text": "pneumonia", "patient_age": 70, "patient_sex": "male"}
            ).encode(),
            json.dumps({"id": "bare", "text": "pneumonia"}).encode(),
            json.dumps({"id": "bad", "text": "pneumonia", "patient_sex": "X"}).encode(),
        ],
    )
    out = tmp_path / "coded.parquet"

    summary = run_batch(notes, out, workers=1, coder=CoderSpec(FACTORY))

    assert (summary.coded, summary.failed) == (3, 1)
    rows = {r["note_id"]: r for r in pq.read_table(out).to_pylist() if r["rank"] == 1}
    assert rows["known"]["drg_provisional"] is False and rows["known"]["raf"] is not None
    assert rows["bare"]["drg_provisional"] is True and rows["bare"]["raf"] is None
    assert rows["old"]["drg_provisional"] is True  # sex still unknown
    assert all(r["drg"] == "195" for r in rows.values())
    [error] = pq.read_table(tmp_path / "coded.errors.parquet").to_pylist()
    assert (error["note_id"], error["kind"]) == ("bad", "note")
