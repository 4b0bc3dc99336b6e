"""``cac export decisions``: a JSON Lines file of schema-valid records; ``--since`` filters;
text and its audit only with ``--include-text``; a bad request writes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from cac.cli.main import app
from cac.config import get_settings
from cac.db.engine import Database
from cac.db.migrate import upgrade
from cac.db.models import AuditEvent
from cac.exports import decisions as export
from tests.exports.sample import TEXT_A, Reviewed, populate

runner = CliRunner()


@pytest.fixture
def reviewed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Database, Reviewed]]:
    url = f"sqlite:///{tmp_path / 'cac.sqlite3'}"
    monkeypatch.setenv("CAC_DATABASE_URL", url)
    get_settings.cache_clear()
    db = Database(url)
    upgrade(db)
    yield db, populate(db)
    db.dispose()


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_writes_one_schema_valid_record_per_reviewed_note_without_text(
    reviewed: tuple[Database, Reviewed], tmp_path: Path
) -> None:
    _, ids = reviewed
    out = tmp_path / "decisions.jsonl"

    result = runner.invoke(app, ["export", "decisions", "--out", str(out)])

    assert result.exit_code == 0, result.output
    records = _read(out)
    assert [r["note_id"] for r in records] == [ids.a, ids.c]
    for record in records:
        jsonschema.validate(record, export.schema())
        assert "text" not in record
    impact = records[0]["impact"]  # the codes the review left, grouped
    assert [c["code"] for c in impact["codes"]] == ["J18.9", "E11.9", "I11.9", "Z79.4"]
    assert impact["drg"]["code"] is not None and impact["drg"]["provisional"]
    assert f"exported 2 notes to {out}" in result.stdout
    assert list(tmp_path.glob(".*partial")) == []


def test_since_keeps_notes_decided_from_then_on(
    reviewed: tuple[Database, Reviewed], tmp_path: Path
) -> None:
    _, ids = reviewed
    later, none = tmp_path / "later.jsonl", tmp_path / "none.jsonl"

    since = ids.boundary.isoformat()
    first = runner.invoke(app, ["export", "decisions", "--since", since, "--out", str(later)])
    second = runner.invoke(
        app, ["export", "decisions", "--since", "2999-01-01", "--out", str(none)]
    )

    assert (first.exit_code, second.exit_code) == (0, 0)
    assert [r["note_id"] for r in _read(later)] == [ids.c]
    assert none.read_text() == ""


def test_include_text_writes_the_text_and_audits_under_the_actor(
    reviewed: tuple[Database, Reviewed], tmp_path: Path
) -> None:
    db, ids = reviewed
    out = tmp_path / "with-text.jsonl"

    result = runner.invoke(
        app, ["export", "decisions", "--include-text", "--actor", "ana", "--out", str(out)]
    )

    assert result.exit_code == 0, result.output
    records = _read(out)
    assert records[0]["text"] == TEXT_A
    with db.read() as session:
        events = list(
            session.scalars(select(AuditEvent).where(AuditEvent.action == "note.text_exported"))
        )
    assert sorted(e.note_id for e in events) == [ids.a, ids.c]
    assert {e.actor for e in events} == {"ana"}
    assert {e.details["export_id"] for e in events} == {records[0]["export_id"]}
    assert "audited as ana" in result.stdout


@pytest.mark.parametrize("since", ["last week", "2026-02-30"])
def test_a_bad_since_fails_with_one_line_and_writes_nothing(
    reviewed: tuple[Database, Reviewed], tmp_path: Path, since: str
) -> None:
    out = tmp_path / "decisions.jsonl"

    result = runner.invoke(app, ["export", "decisions", "--since", since, "--out", str(out)])

    assert result.exit_code == 1
    assert result.output.startswith("error: since must be a date like 2026-11-27")
    assert result.output.count("\n") == 1
    assert list(tmp_path.glob("*.jsonl")) == []


def test_without_a_database_it_fails_with_one_line_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "absent" / "cac.sqlite3"
    monkeypatch.setenv("CAC_DATABASE_URL", f"sqlite:///{missing}")
    get_settings.cache_clear()
    out = tmp_path / "decisions.jsonl"

    result = runner.invoke(app, ["export", "decisions", "--out", str(out)])

    assert result.exit_code == 1
    assert result.output.startswith("error: no service database at")
    assert result.output.count("\n") == 1
    assert not out.exists() and not missing.parent.exists()
