"""``cac export decisions``: reviewed notes with their suggestions and decisions, as JSON Lines."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cac.cli.common import err_console, fail_cleanly
from cac.config import get_settings
from cac.errors import CacError, ConfigError

if TYPE_CHECKING:
    from cac.db.engine import Database

app = typer.Typer(help="Export what coders decided, for retraining.", no_args_is_help=True)


@app.command("decisions")
@fail_cleanly
def decisions(
    out: Annotated[Path, typer.Option("--out", help="The JSON Lines file to write.")],
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only notes with a decision at or after this date (2026-11-27, midnight UTC) "
            "or ISO 8601 time (UTC without an offset).",
        ),
    ] = None,
    include_text: Annotated[
        bool,
        typer.Option("--include-text", help="Add the note text (recorded in each note's audit)."),
    ] = False,
    actor: Annotated[
        str | None,
        typer.Option("--actor", help="Who exports, for the audit; default: your login name."),
    ] = None,
) -> None:
    """Write one cac-decisions/3 record per reviewed note version to --out.

    Each record carries the note's impact (MS-DRG, CC/MCC, HCCs, RAF, prompts) as the API shows
    it. The file appears only when the export is complete. Its JSON Schema ships in the package
    as cac/exports/schema/decisions-v3.schema.json.
    """
    from cac.exports import decisions as export
    from cac.impact import shared_engine

    parsed = export.parse_since(since) if since is not None else None
    if not out.parent.is_dir():
        raise CacError(f"the folder of --out does not exist: {out.parent}")
    request = export.ExportRequest(
        actor=actor or _login(), via="cli", since=parsed, include_text=include_text
    )
    engine = shared_engine()  # the grouper and HCC tables, loaded once for every record
    db = _open_database()
    partial = out.with_name(f".{out.name}.partial")
    written = 0
    try:
        total = export.count_notes(db, parsed)
        columns = (TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with (
            partial.open("w", encoding="utf-8") as sink,
            Progress(*columns, console=err_console, transient=True) as bar,
        ):
            task = bar.add_task("exporting", total=total)
            for record in export.stream(db, request, engine=engine):
                sink.write(record.to_json() + "\n")
                written += 1
                bar.advance(task)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
        db.dispose()
    text = f"; note text included, audited as {request.actor}" if include_text else ""
    typer.echo(f"exported {written} notes to {out} (export {request.export_id}){text}")


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        raise CacError("cannot tell who you are from the OS; pass --actor NAME") from None


def _open_database() -> Database:
    """The service database, as it is: an export never creates or migrates one."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from cac.db.engine import Database, normalize_url
    from cac.db.migrate import current_revision, head_revision

    url = normalize_url(get_settings().database)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        raise ConfigError(
            f"no service database at {parsed.database}; set CAC_DATABASE_URL or CAC_HOME"
        )
    db = Database(url)
    try:
        current, head = current_revision(db), head_revision()
    except SQLAlchemyError as exc:  # the message may name the server; the class says enough
        db.dispose()
        raise ConfigError(
            f"cannot read the service database of CAC_DATABASE_URL ({type(exc).__name__}); "
            "check that it is running and reachable"
        ) from None
    if current != head:
        db.dispose()
        raise ConfigError(
            f"the service database is at schema {current or 'none'}, this cac needs {head}; "
            "start `cac serve` once (it migrates) and export again"
        )
    return db
