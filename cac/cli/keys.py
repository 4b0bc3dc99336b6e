"""``cac keys``: create, revoke and list API keys (only their hashes are stored)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cac.cli.common import console, fail_cleanly
from cac.config import get_settings

if TYPE_CHECKING:
    from cac.db.engine import Database

app = typer.Typer(help="Create, revoke and list API keys.", no_args_is_help=True)


def _database() -> Database:
    from cac.db.engine import Database
    from cac.db.migrate import upgrade

    db = Database(get_settings().database)
    upgrade(db)
    return db


@app.command("create")
@fail_cleanly
def create(
    role: Annotated[str, typer.Option("--role", help="ehr, coder, data_scientist or admin.")],
    name: Annotated[str, typer.Option("--name", help="Who holds the key (unique among active).")],
) -> None:
    """Create a key and print it, alone, on stdout. It is shown once; only its hash is kept."""
    from cac.db.keys import Role, create_key

    parsed = Role.parse(role)
    key = create_key(_database(), name, parsed)
    typer.echo(key)


@app.command("revoke")
@fail_cleanly
def revoke(name: Annotated[str, typer.Argument(help="The key's name.")]) -> None:
    """Revoke the active key with this name; requests with it get 401 from then on."""
    from cac.db.keys import revoke_key

    revoke_key(_database(), name)
    typer.echo(f"revoked key {name}", err=True)


@app.command("list")
@fail_cleanly
def list_(
    show_revoked: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
) -> None:
    """List key names, roles and dates (never the keys)."""
    from cac.db.keys import list_keys

    table = Table()
    for column in ("name", "role", "created", "revoked"):
        table.add_column(column)
    for info in list_keys(_database()):
        if info.revoked_at is not None and not show_revoked:
            continue
        revoked = info.revoked_at.isoformat(timespec="seconds") if info.revoked_at else ""
        table.add_row(
            info.name, info.role.value, info.created_at.isoformat(timespec="seconds"), revoked
        )
    console.print(table)
