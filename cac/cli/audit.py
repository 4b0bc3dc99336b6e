"""``cac audit verify``: walk the audit log's hash chain and name the first broken link."""

from __future__ import annotations

import typer

from cac.cli.common import fail_cleanly
from cac.config import get_settings

app = typer.Typer(help="Check the audit log.", no_args_is_help=True)


@app.command("verify")
@fail_cleanly
def verify() -> None:
    """Check every audit event's links, oldest first; exit 1 at the first broken one."""
    from cac.db.audit import verify as walk
    from cac.db.engine import Database
    from cac.db.migrate import upgrade

    db = Database(get_settings().database)
    upgrade(db)
    with db.read() as session:
        report = walk(session)
    if report.broken_at is not None:
        typer.echo(
            f"error: audit chain broken at event {report.broken_at}: {report.reason} "
            f"({report.events} events before it hold)",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(f"audit chain holds: {report.events} events, head {report.head}")
