"""``cac keys``: the new key alone on stdout, once; only its hash stored; revoke by name."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cac.cli.main import app
from cac.config import get_settings
from cac.db.engine import Database
from cac.db.keys import authenticate

runner = CliRunner()


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'keys.sqlite3'}"
    monkeypatch.setenv("CAC_DATABASE_URL", url)
    get_settings.cache_clear()
    return url


def test_create_prints_the_key_alone_and_stores_only_its_hash(
    database_url: str, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["keys", "create", "--role", "coder", "--name", "coder-jane"])

    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert result.stdout == key + "\n" and key.startswith("cac_") and len(key) > 40
    assert key.encode() not in (tmp_path / "keys.sqlite3").read_bytes()
    db = Database(database_url)
    found = authenticate(db, key)
    assert found is not None and found.role.value == "coder"

    listed = runner.invoke(app, ["keys", "list"])
    revoked = runner.invoke(app, ["keys", "revoke", "coder-jane"])

    assert "coder-jane" in listed.stdout and key not in listed.stdout
    assert revoked.exit_code == 0
    assert authenticate(db, key) is None
    db.dispose()


def test_bad_role_and_unknown_name_fail_with_one_error_line(database_url: str) -> None:
    bad_role = runner.invoke(app, ["keys", "create", "--role", "root", "--name", "x"])
    unknown = runner.invoke(app, ["keys", "revoke", "nobody"])

    assert bad_role.exit_code == 1 and "use one of: ehr, coder" in bad_role.output
    assert unknown.exit_code == 1 and "no active key named 'nobody'" in unknown.output


def test_expires_and_rotate(database_url: str) -> None:
    from datetime import UTC, datetime, timedelta

    from cac.cli.keys import parse_expiry

    now = datetime(2026, 12, 8, 12, tzinfo=UTC)
    assert parse_expiry("90d", now) == now + timedelta(days=90)
    assert parse_expiry("12h", now) == now + timedelta(hours=12)
    assert parse_expiry("2027-01-31", now) == datetime(2027, 1, 31, tzinfo=UTC)
    assert parse_expiry(None, now) is None

    created = runner.invoke(
        app, ["keys", "create", "--role", "ehr", "--name", "bridge", "--expires", "30d"]
    )
    old = created.stdout.strip()
    rotated = runner.invoke(app, ["keys", "rotate", "bridge"])
    bad = runner.invoke(app, ["keys", "create", "--role", "ehr", "--name", "x", "--expires", "soon"])

    assert rotated.exit_code == 0, rotated.output
    new = rotated.stdout.strip()
    db = Database(database_url)
    assert authenticate(db, old) is None
    found = authenticate(db, new)
    assert found is not None and (found.name, found.role.value) == ("bridge", "ehr")
    assert bad.exit_code == 1 and bad.output.count("\n") == 1 and "--expires" in bad.output
    db.dispose()
