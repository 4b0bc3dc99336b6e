"""Database tests run on SQLite and on the throwaway PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres import fresh_database


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database (no migrations applied)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cac.sqlite3'}"
        return
    with fresh_database(request.getfixturevalue("postgres_server")) as url:
        yield url
