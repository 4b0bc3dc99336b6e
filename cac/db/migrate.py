"""Apply the Alembic migrations shipped in ``cac/migrations`` (service start, key commands)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from cac.db.engine import Database

SCRIPT_LOCATION = Path(__file__).parent.parent / "migrations"
# Any constant: serialises concurrent start-ups of several workers on one PostgreSQL.
_PG_LOCK_KEY = 7_354_012
_VERSION_TABLE = "alembic_version"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    return config


def head_revision() -> str:
    """The newest migration shipped with this cac."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(db: Database) -> str | None:
    """The migration the database is at, or None for an empty database."""
    with db.engine.connect() as conn:
        if not inspect(conn).has_table(_VERSION_TABLE):
            return None
        return conn.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalar()


def upgrade(db: Database) -> None:
    """Bring the database to the newest schema (a no-op when it is there already)."""
    config = _config()
    with db.engine.begin() as conn:
        if db.is_postgres:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
