"""The Spark engine: the same :func:`cac.batch.rows.code_note` inside ``mapInPandas``.

Each Spark Python worker builds its coder once (:func:`cac.batch.coder.cached_coder`, a module
global; Spark reuses Python workers between tasks by default), and with ``impact=True`` loads the
impact engine once too (:func:`cac.impact.shared_engine`). PySpark is imported only here and
only when a function runs, so ``import cac.batch`` stays light.
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from collections.abc import Generator, Iterator
from functools import partial
from itertools import islice
from typing import TYPE_CHECKING, Any

from cac.batch.coder import CoderSpec, cached_coder
from cac.batch.records import NoteRow
from cac.batch.rows import (
    BASE_RECORD_COLUMNS,
    RECORD_COLUMNS,
    SPARK_IMPACT_SCHEMA,
    SPARK_SCHEMA,
    code_note,
    refused,
)

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

Outcome = tuple[NoteRow, list[dict[str, Any]]]
_INPUT_SCHEMA = "id string, text string, setting string, patient_age bigint, patient_sex string"


def _column(batch: pd.DataFrame, name: str) -> list[Any]:
    """A column's values, a missing one as None (pandas gives NaN, None or pd.NA by dtype). A
    whole-number float is an int column that had nulls, given back as the int."""
    out: list[Any] = []
    for value, missing in zip(batch[name].tolist(), batch[name].isna().tolist(), strict=True):
        if missing:
            out.append(None)
        elif isinstance(value, float) and value.is_integer():
            out.append(int(value))
        else:
            out.append(value)
    return out


def _code_partition(
    spec: CoderSpec, impact: bool, batches: Iterator[pd.DataFrame]
) -> Iterator[pd.DataFrame]:
    import pandas as pd

    from cac.impact import shared_engine

    coder = cached_coder(spec)
    engine = shared_engine() if impact else None
    columns = list(RECORD_COLUMNS if impact else BASE_RECORD_COLUMNS)
    for batch in batches:
        records: list[dict[str, Any]] = []
        names = ("id", "text", "setting", "age", "sex")
        for note_id, text, setting, age, sex in zip(
            *(_column(batch, c) for c in names), strict=True
        ):
            records.extend(code_note(coder, note_id, text, setting, age, sex, engine=engine))
        if records:
            yield pd.DataFrame.from_records(records, columns=columns)


def code_dataframe(
    notes: DataFrame,
    *,
    id_col: str = "id",
    text_col: str = "text",
    setting_col: str | None = None,
    setting: str = "inpatient",
    coder: CoderSpec | None = None,
    impact: bool = False,
    age_col: str | None = None,
    sex_col: str | None = None,
) -> DataFrame:
    """Code every note of a Spark DataFrame; lazy, like any transformation.

    Args:
        notes: One note per row.
        id_col: The note id column (cast to string).
        text_col: The note text column.
        setting_col: A column with ``inpatient``/``outpatient`` per note; by default ``setting``
            when the DataFrame has one. Missing values take ``setting``.
        setting: The setting of notes without one.
        coder: Which coder the executors build (default: :class:`cac.Coder` from ``CAC_HOME``
            on the executor).
        impact: Add the impact columns (:mod:`cac.batch.impact`): ``principal``, ``drg``,
            ``drg_weight``, ``drg_provisional``, the row's ``cc_mcc``, ``hccs`` (V28, after
            hierarchies), ``raf``, ``raf_disease``, ``prompts`` and ``impact`` (JSON strings),
            from the shown codes; each executor loads the grouper and HCC tables once.
        age_col: A column with the patient's age in whole years; by default ``patient_age``
            when the DataFrame has one. Used only with ``impact``; without it the DRG is
            provisional and ``raf`` null.
        sex_col: A column with ``male``/``female``/``other``/``unknown``; by default
            ``patient_sex`` when the DataFrame has one.

    Returns:
        One row per suggestion with the columns of :data:`cac.batch.rows.SPARK_SCHEMA`: note id,
        setting, rank, system, code, description, confidence, evidence offsets, assertion, flags,
        model versions (JSON), and ``error_kind``/``error`` (set, with the suggestion columns
        empty, on the one row of a note that could not be coded). A note without suggestions
        gives one row with empty suggestion columns. With ``impact``, the columns of
        :data:`cac.batch.rows.SPARK_IMPACT_SCHEMA`, the impact ones before ``error_kind``. An
        age or sex that cannot be read makes the note an error row (kind ``note``).
    """
    from pyspark.sql import functions as F

    if setting_col is None and "setting" in notes.columns:
        setting_col = "setting"
    chosen = F.lit(setting)
    if setting_col is not None:
        chosen = F.coalesce(F.col(setting_col).cast("string"), chosen)
    if age_col is None and "patient_age" in notes.columns:
        age_col = "patient_age"
    if sex_col is None and "patient_sex" in notes.columns:
        sex_col = "patient_sex"
    # Without impact, age and sex are not read (a bad one must not fail a coding-only run).
    age = F.col(age_col) if impact and age_col is not None else F.lit(None)
    sex = F.col(sex_col) if impact and sex_col is not None else F.lit(None)
    selected = notes.select(
        F.col(id_col).cast("string").alias("id"),
        F.col(text_col).cast("string").alias("text"),
        chosen.alias("setting"),
        age.cast("bigint").alias("age"),
        sex.cast("string").alias("sex"),
    )
    schema = SPARK_IMPACT_SCHEMA if impact else SPARK_SCHEMA
    return selected.mapInPandas(partial(_code_partition, coder or CoderSpec(), impact), schema)


def local_session(master: str) -> SparkSession:
    """A quiet SparkSession for this machine (``local[N]``), workers on this Python."""
    from pyspark.sql import SparkSession

    # PySpark starts its Python workers with $PYSPARK_PYTHON (else "python3" on the PATH): make
    # them this interpreter, with cac and its dependencies, unless the user chose one.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master(master)
        .appName("cac-batch")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


class SparkEngine:
    """Codes notes in chunks: each chunk becomes a DataFrame, coded by ``code_dataframe``."""

    def __init__(self, spec: CoderSpec, session: SparkSession, chunk_notes: int = 256) -> None:
        self.spec = spec
        self.session = session
        self.chunk_notes = chunk_notes
        # Several partitions per core, so one long note does not leave a core idle for long.
        self.partitions = 4 * max(1, session.sparkContext.defaultParallelism)

    def code(self, notes: Iterator[NoteRow]) -> Generator[Outcome, None, None]:
        import pandas as pd

        while batch := list(islice(notes, self.chunk_notes)):
            # A row the checks refuse never goes to Spark: its bigint age column would turn an
            # unreadable age into a missing one, and the engines must write the same files.
            chunk = []
            for note in batch:
                refusal = refused(note.id, note.text, note.setting, note.age, note.sex)
                if refusal is None:
                    chunk.append(note)
                else:
                    yield note, refusal
            if not chunk:
                continue
            frame = pd.DataFrame(
                {
                    "id": [n.id for n in chunk],
                    "text": [n.text for n in chunk],
                    "setting": [n.setting for n in chunk],
                    "patient_age": pd.array([n.age for n in chunk], dtype="Int64"),  # checked
                    "patient_sex": [n.sex for n in chunk],
                }
            )
            notes_df = self.session.createDataFrame(frame, schema=_INPUT_SCHEMA)
            partitions = min(self.partitions, len(chunk))
            coded = code_dataframe(notes_df.repartition(partitions), coder=self.spec, impact=True)
            by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for record in coded.toArrow().to_pylist():
                by_id[record["note_id"]].append(record)
            for note in chunk:
                records = sorted(by_id[note.id], key=lambda r: r["rank"] or 0)
                yield note, records
