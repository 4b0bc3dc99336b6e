"""The audit log's hash chain: appends link each event to the one before, ``verify`` walks the
chain, and a row edited or removed behind the service's back breaks it there (SQLite and
PostgreSQL)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from cac.db import audit
from cac.db.chain import GENESIS
from cac.db.engine import Database
from cac.db.migrate import upgrade
from cac.db.models import AuditEvent


@pytest.fixture
def db(empty_database_url: str) -> Iterator[Database]:
    database = Database(empty_database_url)
    upgrade(database)
    with database.write() as session:
        session.execute(
            text(
                "INSERT INTO notes (external_id, version, text, text_sha256, setting, source, "
                "model, created_by, created_at) VALUES ('e', 1, 't', 'h', 'inpatient', 'json', "
                "'{}', 'k', CURRENT_TIMESTAMP)"
            )
        )
    yield database
    database.dispose()


def _append(db: Database, count: int) -> None:
    with db.write() as session:
        for i in range(count):
            audit.append(
                session,
                1,
                audit.AuditAction.NOTE_READ,
                f"coder-{i}",
                details={"version": 1, "route": "GET /v1/notes/{note_id}", "i": i, "w": 0.25},
            )


def _lift_triggers(db: Database) -> None:
    """What someone with the database file (or a superuser) can do."""
    with db.write() as session:
        if db.is_postgres:
            session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        else:
            session.execute(text("DROP TRIGGER audit_events_no_update"))
            session.execute(text("DROP TRIGGER audit_events_no_delete"))


def test_events_are_chained_in_order(db: Database) -> None:
    _append(db, 2)
    _append(db, 3)  # a second transaction chains to the first
    with db.read() as session:
        events = list(session.query(AuditEvent).order_by(AuditEvent.id))
        report = audit.verify(session)
    assert events[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert len({e.hash for e in events}) == 5
    assert (report.events, report.head, report.broken_at) == (5, events[-1].hash, None)


def test_an_edited_row_breaks_the_chain_at_that_event(db: Database) -> None:
    _append(db, 4)
    _lift_triggers(db)
    with db.write() as session:
        session.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE id = 3"))
    with db.read() as session:
        report = audit.verify(session)
    assert (report.broken_at, report.events) == (3, 2)
    assert report.reason is not None and "fields" in report.reason


def test_a_removed_row_breaks_the_chain_at_the_next_event(db: Database) -> None:
    _append(db, 4)
    _lift_triggers(db)
    with db.write() as session:
        session.execute(text("DELETE FROM audit_events WHERE id = 2"))
    with db.read() as session:
        report = audit.verify(session)
    assert report.broken_at == 3
    assert report.reason is not None and "previous" in report.reason


def test_cac_audit_verify_names_the_first_broken_link(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cac.cli.main import app
    from cac.config import get_settings

    monkeypatch.setenv("CAC_DATABASE_URL", db.url)
    get_settings.cache_clear()
    try:
        _append(db, 3)
        ok = CliRunner().invoke(app, ["audit", "verify"])
        assert ok.exit_code == 0 and "3 events" in ok.output
        _lift_triggers(db)
        with db.write() as session:
            session.execute(text("UPDATE audit_events SET details = '{}' WHERE id = 2"))
        broken = CliRunner().invoke(app, ["audit", "verify"])
        assert broken.exit_code == 1
        assert "broken at event 2" in broken.output
    finally:
        get_settings.cache_clear()
