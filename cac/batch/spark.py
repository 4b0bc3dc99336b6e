"""The Spark engine: the same :func:`cac.batch.rows.code_note` inside ``mapInPandas``.

Each Spark Python worker builds its coder once (:func:`cac.batch.coder.cached_coder`, a module
global; Spark reuses Python workers between tasks by default). PySpark is imported only here and
only when a function runs, so ``import cac.batch`` stays light.
"""

from __future__ import annotations

import math
import os
import sys
from collections import defaultdict
from collections.abc import Generator, Iterator
from functools import partial
from itertools import islice
from typing import TYPE_CHECKING, Any

from cac.batch.coder import CoderSpec, cached_coder
from cac.batch.records import NoteRow
from cac.batch.rows import RECORD_COLUMNS, SPARK_SCHEMA, code_note

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

Outcome = tuple[NoteRow, list[dict[str, Any]]]
_INPUT_SCHEMA = "id string, text string, setting string"


def _value(value: Any) -> Any:
    """pandas gives NaN (pandas 3 strings) or None for a missing value; the coder wants None."""
    return None if isinstance(value, float) and math.isnan(value) else value


def _code_partition(spec: CoderSpec, batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    import pandas as pd

    coder = cached_coder(spec)
    for batch in batches:
        records: list[dict[str, Any]] = []
        for note_id, text, setting in zip(
            batch["id"].tolist(), batch["text"].tolist(), batch["setting"].tolist(), strict=True
        ):
            records.extend(code_note(coder, _value(note_id), _value(text), _value(setting)))
        if records:
            yield pd.DataFrame.from_records(records, columns=list(RECORD_COLUMNS))


def code_dataframe(
    notes: DataFrame,
    *,
    id_col: str = "id",
    text_col: str = "text",
    setting_col: str | None = None,
    setting: str = "inpatient",
    coder: CoderSpec | None = None,
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

    Returns:
        One row per suggestion with the columns of :data:`cac.batch.rows.SPARK_SCHEMA`: note id,
        setting, rank, system, code, description, confidence, evidence offsets, assertion, flags,
        model versions (JSON), and ``error_kind``/``error`` (set, with the suggestion columns
        empty, on the one row of a note that could not be coded). A note without suggestions
        gives one row with empty suggestion columns.
    """
    from pyspark.sql import functions as F

    if setting_col is None and "setting" in notes.columns:
        setting_col = "setting"
    chosen = F.lit(setting)
    if setting_col is not None:
        chosen = F.coalesce(F.col(setting_col).cast("string"), chosen)
    selected = notes.select(
        F.col(id_col).cast("string").alias("id"),
        F.col(text_col).cast("string").alias("text"),
        chosen.alias("setting"),
    )
    return selected.mapInPandas(partial(_code_partition, coder or CoderSpec()), SPARK_SCHEMA)


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

        while chunk := list(islice(notes, self.chunk_notes)):
            frame = pd.DataFrame(
                {
                    "id": [n.id for n in chunk],
                    "text": [n.text for n in chunk],
                    "setting": [n.setting for n in chunk],
                }
            )
            notes_df = self.session.createDataFrame(frame, schema=_INPUT_SCHEMA)
            partitions = min(self.partitions, len(chunk))
            coded = code_dataframe(notes_df.repartition(partitions), coder=self.spec)
            by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for record in coded.toArrow().to_pylist():
                by_id[record["note_id"]].append(record)
            for note in chunk:
                records = sorted(by_id[note.id], key=lambda r: r["rank"] or 0)
                yield note, records
