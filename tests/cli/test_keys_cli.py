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
