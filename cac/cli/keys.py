"""``cac keys``: create, rotate, revoke and list API keys (only their hashes are stored)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cac.cli.common import console, fail_cleanly
from cac.config import get_settings

if TYPE_CHECKING:
    from cac.db.engine import Database

app = typer.Typer(help="Create, rotate, revoke and list API keys.", no_args_is_help=True)
_LIFETIME = re.compile(r"^(\d{1,5})([dh])$")
_EXPIRES_HELP = "When the key stops working: a lifetime (90d, 12h) or an ISO date/time (UTC)."


def parse_expiry(text: str | None, now: datetime | None = None) -> datetime | None:
    """``--expires``: ``90d`` / ``12h`` from now, or an ISO date or date-time (UTC unless it
    names its offset); None without the option.

    Raises:
        CacError: for anything else.
    """
    from cac.errors import CacError

    if text is None:
        return None
    now = now or datetime.now(UTC)
    lifetime = _LIFETIME.match(text.strip())
    if lifetime:
        amount, unit = int(lifetime.group(1)), lifetime.group(2)
        return now + (timedelta(days=amount) if unit == "d" else timedelta(hours=amount))
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CacError("--expires takes a lifetime (90d, 12h) or an ISO date/time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


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
    expires: Annotated[str | None, typer.Option("--expires", help=_EXPIRES_HELP)] = None,
) -> None:
    """Create a key and print it, alone, on stdout. It is shown once; only its hash is kept."""
    from cac.db.keys import Role, create_key

    parsed = Role.parse(role)
    key = create_key(_database(), name, parsed, parse_expiry(expires))
    typer.echo(key)


@app.command("rotate")
@fail_cleanly
def rotate(
    name: Annotated[str, typer.Argument(help="The key's name.")],
    expires: Annotated[str | None, typer.Option("--expires", help=_EXPIRES_HELP)] = None,
) -> None:
    """Issue a new key for NAME (same role), revoke the old one, and print the new key."""
    from cac.db.keys import rotate_key

    key = rotate_key(_database(), name, parse_expiry(expires))
    typer.echo(key)
    typer.echo(f"rotated key {name}: the old key is revoked", err=True)


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
    for column in ("name", "role", "created", "revoked", "expires"):
        table.add_column(column)
    for info in list_keys(_database()):
        if info.revoked_at is not None and not show_revoked:
            continue
        revoked = info.revoked_at.isoformat(timespec="seconds") if info.revoked_at else ""
        expires = info.expires_at.isoformat(timespec="seconds") if info.expires_at else ""
        table.add_row(
            info.name,
            info.role.value,
            info.created_at.isoformat(timespec="seconds"),
            revoked,
            expires,
        )
    console.print(table)
