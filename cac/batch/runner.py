"""``cac batch`` end to end: read, skip what is settled, code with an engine, write, compact."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cac.batch.coder import CoderSpec
from cac.batch.inputs import open_input
from cac.batch.outputs import PartWriter, compact, output_paths, settled
from cac.batch.records import ErrorKind, NoteRow, RowError
from cac.errors import CacError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

Engine = Literal["local", "spark"]
CHUNK_NOTES = 256


@dataclass
class BatchProgress:
    """Counts so far, passed to the progress callback after every note."""

    total: int
    coded: int = 0
    failed: int = 0
    skipped: int = 0
    started: float = field(default_factory=time.perf_counter)

    @property
    def seen(self) -> int:
        return self.coded + self.failed + self.skipped

    @property
    def notes_per_second(self) -> float:
        """Notes coded (not skipped) per second of this run."""
        elapsed = time.perf_counter() - self.started
        return self.coded / elapsed if elapsed > 0 else 0.0


@dataclass(frozen=True)
class BatchSummary:
    """What a run did and what the final files hold."""

    coded: int
    failed: int
    skipped: int
    seconds: float
    output: Path
    errors_file: Path
    output_rows: int
    output_notes: int
    error_rows: int
    worker_peak_rss_mb: dict[int, float]


class _Chunk:
    """The records and errors not yet written to a part file."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.errors: list[RowError] = []
        self.notes = 0


def run_batch(
    input_path: Path,
    output: Path,
    *,
    engine: Engine = "local",
    workers: int | None = None,
    setting: str = "inpatient",
    coder: CoderSpec | None = None,
    chunk_notes: int = CHUNK_NOTES,
    spark: SparkSession | None = None,
    on_progress: Callable[[BatchProgress], None] | None = None,
) -> BatchSummary:
    """Code every note of ``input_path`` not yet settled in ``output``; see :mod:`cac.batch`.

    Args:
        input_path: A folder of ``.txt`` files, a ``.jsonl`` file or a ``.parquet`` file.
        output: ``.parquet`` or ``.jsonl``; the errors file goes beside it.
        engine: ``local`` (worker processes) or ``spark``.
        workers: Local worker processes, or the N of Spark's ``local[N]`` when no session is
            given; default the number of cores.
        setting: The setting of notes whose row does not give one.
        coder: Which coder workers build (default: :class:`cac.Coder`).
        chunk_notes: Notes per part file (an interruption loses at most this many).
        spark: A SparkSession to use (default: a ``local[workers]`` one, stopped at the end).
        on_progress: Called after every note with the counts so far.

    Raises:
        CacError: when the input or output is unusable as a whole, or OUTPUT holds suggestions
            from other model versions.
    """
    paths = output_paths(output)
    source = open_input(input_path, setting)
    workers = workers or os.cpu_count() or 1
    spec = coder or CoderSpec()
    done = settled(paths)
    progress = BatchProgress(total=source.count())
    chunk = _Chunk()
    writer = PartWriter(paths)

    def report() -> None:
        if on_progress is not None:
            on_progress(progress)

    def flush() -> None:
        if chunk.records or chunk.errors:
            writer.write(chunk.records, chunk.errors)
        chunk.clear()

    def fail(error: RowError) -> None:
        chunk.errors.append(error)
        progress.failed += 1
        report()

    def notes() -> Iterator[NoteRow]:
        first_seen: dict[str, str] = {}
        for row in source.rows():
            note_id = row.id if isinstance(row, NoteRow) else row.note_id
            if note_id is not None and note_id in first_seen:
                reason = f"duplicate id (first at {first_seen[note_id]})"
                fail(RowError(note_id, row.position, row.location, "duplicate", reason))
                continue
            if note_id is not None:
                first_seen[note_id] = row.location
            if note_id is not None and note_id in done.ids:
                progress.skipped += 1
                report()
            elif isinstance(row, RowError):
                fail(row)
            else:
                yield row

    def take(note: NoteRow, records: list[dict[str, Any]]) -> None:
        _check_model(records, done.models)
        errors = [r for r in records if r["error_kind"] is not None]
        if errors or not records:
            kind: ErrorKind = errors[0]["error_kind"] if errors else "failure"
            reason = errors[0]["error"] if errors else "the engine returned no result"
            chunk.errors.append(RowError(note.id, note.position, note.location, kind, reason))
            progress.failed += 1
        else:
            drop = ("error_kind", "error")
            chunk.records.extend({k: v for k, v in r.items() if k not in drop} for r in records)
            progress.coded += 1
        chunk.notes += 1
        report()
        if chunk.notes >= chunk_notes:
            flush()

    session, own_session = spark, False
    if engine == "spark" and session is None:
        from pyspark.sql import SparkSession

        from cac.batch.spark import local_session

        # A running session (a notebook, spark-submit) is used as it is and left running.
        session = SparkSession.getActiveSession()
        if session is None:
            session, own_session = local_session(f"local[{workers}]"), True
    started = time.perf_counter()
    try:
        if engine == "spark":
            from cac.batch.spark import SparkEngine

            assert session is not None
            outcomes = closing(SparkEngine(spec, session, chunk_notes).code(notes()))
            peaks: dict[int, int] = {}
        else:
            from cac.batch.local import LocalEngine

            local = LocalEngine(spec, workers)
            outcomes = closing(local.code(notes()))
            peaks = local.peak_rss_kib
        with outcomes as coded:  # on any error, stops the workers before the finally below
            for note, records in coded:
                take(note, records)
        flush()
    finally:
        if own_session and session is not None:
            session.stop()
    seconds = time.perf_counter() - started
    final = compact(paths)
    logger.info(
        "batch: %d coded, %d failed, %d skipped in %.1f s",
        progress.coded, progress.failed, progress.skipped, seconds,
    )  # fmt: skip
    return BatchSummary(
        coded=progress.coded,
        failed=progress.failed,
        skipped=progress.skipped,
        seconds=seconds,
        output=paths.output,
        errors_file=paths.errors,
        output_rows=final.rows,
        output_notes=final.notes,
        error_rows=final.errors,
        worker_peak_rss_mb={pid: kib / 1024 for pid, kib in peaks.items()},
    )


def _check_model(records: list[dict[str, Any]], existing: set[str]) -> None:
    """Refuse to mix model versions in one output (a rerun after a model change)."""
    for record in records:
        model = record.get("model")
        if existing and model is not None and model not in existing:
            raise CacError(
                "OUTPUT already holds suggestions from other model versions; write this run to "
                "a new OUTPUT"
            )
