"""The Spark engine (local[2]) gives the same files as the local engine; ``code_dataframe``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.parquet as pq
import pytest

from cac.batch import code_dataframe
from cac.batch.coder import CoderSpec
from cac.batch.impact import IMPACT_COLUMNS
from cac.batch.runner import run_batch
from eval.codiesp import DEFAULT_DIR, load_texts
from tests.batch.conftest import write_jsonl
from tests.batch.fake_coder import FACTORY

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

FAKE = CoderSpec(FACTORY)
# PySpark 4.3 warns on pandas 3; the schema used here round-trips (these tests check it).
pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support:FutureWarning")


def test_spark_and_local_engines_write_identical_files(
    spark: SparkSession, messy_jsonl: Path, tmp_path: Path
) -> None:
    local, on_spark = tmp_path / "local.parquet", tmp_path / "spark.parquet"
    run_batch(messy_jsonl, local, workers=2, coder=FAKE)
    summary = run_batch(messy_jsonl, on_spark, engine="spark", spark=spark, coder=FAKE,
                        chunk_notes=3)  # fmt: skip
    assert (summary.coded, summary.failed) == (5, 7)
    assert on_spark.read_bytes() == local.read_bytes()
    errors = [tmp_path / f"{n}.errors.parquet" for n in ("local", "spark")]
    assert errors[0].read_bytes() == errors[1].read_bytes()
    assert spark.getActiveSession() is not None  # a session it was given is left running


def test_code_dataframe_codes_a_spark_dataframe(spark: SparkSession) -> None:
    notes = spark.createDataFrame(
        [(7, "pneumonia", None), (8, None, "outpatient"), (9, "Fever.", "outpatient")],
        "encounter long, body string, care string",
    )
    coded = code_dataframe(notes, id_col="encounter", text_col="body", setting_col="care",
                           coder=FAKE)  # fmt: skip
    rows = sorted(coded.collect(), key=lambda r: (r.note_id, r.rank or 0))
    assert [(r.note_id, r.setting, r.rank, r.code, r.error_kind) for r in rows] == [
        ("7", "inpatient", 1, "J18.9", None),
        ("7", "inpatient", 2, "R69", None),
        ("8", "outpatient", None, None, "note"),
        ("9", "outpatient", 1, "R69", None),
    ]
    assert rows[0].evidence[0].asDict() == {"start": 0, "end": 9, "kind": "mention"}
    assert rows[0].rationale[0].rule == "cut.confidence" and rows[0].suppressed_by is None
    assert rows[1].suppressed_by.asDict()["code"] == "J18.9"
    assert rows[1].alternatives == ["R68.89"] and rows[3].suppressed_by is None
    assert rows[2].error == "missing text"


@pytest.mark.kb
def test_real_coder_gives_identical_suggestions_on_codiesp_dev_notes(
    spark: SparkSession, real_home: Path, tmp_path: Path
) -> None:
    texts = load_texts(DEFAULT_DIR, "dev")
    notes = tmp_path / "notes"
    notes.mkdir()
    for name in sorted(texts)[:4]:
        (notes / f"{name}.txt").write_text(texts[name], encoding="utf-8")
    coder = CoderSpec(home=str(real_home))
    local, on_spark = tmp_path / "local.parquet", tmp_path / "spark.parquet"
    run_batch(notes, local, workers=1, coder=coder)
    run_batch(notes, on_spark, engine="spark", spark=spark, coder=coder)
    table = pq.read_table(local)
    assert len(set(table["note_id"].to_pylist())) == 4
    assert table.num_rows > 8 and "icd10cm" in table["system"].to_pylist()
    assert pq.read_table(on_spark).equals(table)
    assert on_spark.read_bytes() == local.read_bytes()


def test_spark_submit_job_appends_only_new_notes(spark: SparkSession, tmp_path: Path) -> None:
    from cac.batch.spark_job import main

    notes, coded = tmp_path / "notes.parquet", str(tmp_path / "coded")
    spark.createDataFrame([("a", "pneumonia"), ("b", " ")], "id string, text string").write.parquet(
        str(notes)
    )
    main(["--input", str(notes), "--output", coded, "--coder", FACTORY])
    more = tmp_path / "more.parquet"
    spark.createDataFrame(
        [("a", "pneumonia"), ("c", "Fever.")], "id string, text string"
    ).write.parquet(str(more))
    main(["--input", str(more), "--output", coded, "--coder", FACTORY])
    rows = sorted(
        (r.note_id, r.rank or 0, r.error_kind) for r in spark.read.parquet(coded).collect()
    )
    assert rows == [("a", 1, None), ("a", 2, None), ("b", 0, "note"), ("c", 1, None)]


def test_code_dataframe_adds_impact_columns_on_request(spark: SparkSession) -> None:
    notes = spark.createDataFrame(
        [
            ("a", "pneumonia", 70, "female"),
            ("b", "pneumonia", None, None),
            ("c", "Fever.", 50, None),
        ],
        "id string, text string, patient_age int, patient_sex string",
    )

    plain = code_dataframe(notes, coder=FAKE)
    coded = code_dataframe(notes, coder=FAKE, impact=True)

    assert "drg" not in plain.columns
    assert coded.columns[-len(IMPACT_COLUMNS) - 2 :] == [*IMPACT_COLUMNS, "error_kind", "error"]
    rows = {r.note_id: r for r in coded.collect() if r.rank == 1}
    a, b, c = rows["a"], rows["b"], rows["c"]
    assert (a.principal, a.drg, a.drg_provisional) == ("J18.9", "195", False)
    assert a.raf is not None and b.raf is None and b.drg_provisional is True
    assert a.drg_weight == b.drg_weight and a.hccs == []
    assert json.loads(a.impact)["drg"]["code"] == "195"
    assert json.loads(a.prompts) == json.loads(a.impact)["prompts"]
    assert c.code == "R69" and c.drg is None  # nothing shown: no impact


def test_both_engines_write_the_same_impact_from_the_same_demographics(
    spark: SparkSession, tmp_path: Path
) -> None:
    notes = write_jsonl(
        tmp_path / "notes.jsonl",
        [
            json.dumps({"id": "a", "text": "pneumonia", "patient_age": 70, "patient_sex": "male"})
            .encode(),
            json.dumps({"id": "b", "text": "pneumonia"}).encode(),
            json.dumps({"id": "c", "text": "pneumonia", "patient_age": "old"}).encode(),
        ],
    )  # fmt: skip
    local, on_spark = tmp_path / "local.parquet", tmp_path / "spark.parquet"

    run_batch(notes, local, workers=1, coder=FAKE)
    summary = run_batch(notes, on_spark, engine="spark", spark=spark, coder=FAKE)

    assert (summary.coded, summary.failed) == (2, 1)
    assert on_spark.read_bytes() == local.read_bytes()
    rows = {r["note_id"]: r for r in pq.read_table(on_spark).to_pylist() if r["rank"] == 1}
    assert rows["a"]["drg_provisional"] is False and rows["b"]["drg_provisional"] is True
    errors = [tmp_path / f"{n}.errors.parquet" for n in ("local", "spark")]
    assert errors[0].read_bytes() == errors[1].read_bytes()


def test_spark_submit_job_adds_impact_columns_with_impact(
    spark: SparkSession, tmp_path: Path
) -> None:
    from cac.batch.spark_job import main

    notes, coded = tmp_path / "notes.parquet", str(tmp_path / "coded")
    spark.createDataFrame(
        [("a", "pneumonia", 70, "female")], "id string, text string, patient_age int, "
        "patient_sex string"
    ).write.parquet(str(notes))  # fmt: skip

    main(["--input", str(notes), "--output", coded, "--coder", FACTORY, "--impact"])

    [first, _] = sorted(spark.read.parquet(coded).collect(), key=lambda r: r.rank)
    assert (first.drg, first.drg_provisional, first.principal) == ("195", False, "J18.9")
