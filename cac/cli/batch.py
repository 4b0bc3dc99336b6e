"""``cac batch``: code a folder, JSONL or Parquet file of notes into Parquet or JSONL rows."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from cac.batch.coder import DEFAULT_FACTORY, CoderSpec
from cac.batch.records import SETTINGS
from cac.cli.common import err_console, fail_cleanly
from cac.config import get_settings
from cac.errors import CacError

if TYPE_CHECKING:
    from cac.batch.runner import BatchProgress


class _RateColumn(ProgressColumn):
    """Notes coded per second (skipped notes do not count)."""

    def render(self, task: Task) -> Text:
        rate = task.fields.get("rate")
        return Text(f"{rate:.2f} notes/s" if rate else "- notes/s", style="progress.data.speed")


@fail_cleanly
def batch(
    input_path: Annotated[
        Path, typer.Argument(metavar="INPUT", help="Folder of .txt files, .jsonl or .parquet.")
    ],
    output: Annotated[
        Path, typer.Argument(metavar="OUTPUT", help=".parquet or .jsonl; errors go beside it.")
    ],
    engine: Annotated[str, typer.Option("--engine", help="local or spark.")] = "local",
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", min=1, help="Worker processes or Spark local[N]; default: cores."
        ),
    ] = None,
    setting: Annotated[
        str, typer.Option("--setting", help="inpatient or outpatient, for rows without one.")
    ] = "inpatient",
    chunk: Annotated[
        int, typer.Option("--chunk", min=1, help="Notes per part file (lost at most on a crash).")
    ] = 256,
    coder: Annotated[
        str, typer.Option("--coder", help="module:function that builds the coder.")
    ] = DEFAULT_FACTORY,
) -> None:
    """Code many notes; a rerun into the same OUTPUT skips the notes already there."""
    from cac.batch.runner import run_batch

    # PySpark 4.3 warns on pandas 3 at every call; tests/batch/test_spark.py checks what we use.
    warnings.filterwarnings("ignore", "PySpark does not yet fully support", FutureWarning)
    if engine not in ("local", "spark"):
        raise CacError("--engine must be local or spark")
    if setting not in SETTINGS:
        raise CacError("--setting must be inpatient or outpatient")
    columns = (
        TextColumn("coding"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=False) as bar:
        task = bar.add_task("coding", total=None)

        def show(progress: BatchProgress) -> None:
            bar.update(
                task,
                total=progress.total,
                completed=progress.seen,
                rate=progress.notes_per_second,
            )

        summary = run_batch(
            input_path,
            output,
            engine=engine,  # type: ignore[arg-type]
            workers=workers,
            setting=setting,
            coder=CoderSpec(coder, str(get_settings().home.resolve())),
            chunk_notes=chunk,
            on_progress=show,
        )
    rate = summary.coded / summary.seconds if summary.seconds else 0.0
    typer.echo(
        f"coded {summary.coded} notes ({rate:.2f} notes/s), {summary.failed} failed, "
        f"{summary.skipped} already done; {summary.output}: {summary.output_rows} rows for "
        f"{summary.output_notes} notes; {summary.errors_file}: {summary.error_rows} errors"
    )
