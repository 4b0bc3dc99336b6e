"""Alembic migrations: they build the schema the models describe, both ways, on both backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from cac.db.engine import Database
from cac.db.migrate import _config, current_revision, head_revision, upgrade
from cac.db.models import Base

TABLES = {"api_keys", "notes", "suggestions", "decisions", "audit_events"}


@pytest.fixture
def db(empty_database_url: str) -> Iterator[Database]:
    database = Database(empty_database_url)
    yield database
    database.dispose()


def test_upgrade_creates_the_schema_and_is_idempotent(db: Database) -> None:
    assert current_revision(db) is None

    upgrade(db)
    upgrade(db)

    assert current_revision(db) == head_revision()
    assert set(inspect(db.engine).get_table_names()) >= TABLES


def test_the_models_match_the_migrations(db: Database) -> None:
    upgrade(db)
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_downgrade_removes_everything_and_upgrade_rebuilds(db: Database) -> None:
    upgrade(db)
    config = _config()
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert not TABLES & set(inspect(db.engine).get_table_names())

    upgrade(db)
    assert set(inspect(db.engine).get_table_names()) >= TABLES


@pytest.mark.parametrize("statement", ["UPDATE {table} SET actor = 'x'", "DELETE FROM {table}"])
def test_the_audit_log_is_append_only_in_the_database(db: Database, statement: str) -> None:
    upgrade(db)
    with db.write() as session:
        session.execute(
            text(
                "INSERT INTO notes (external_id, version, text, text_sha256, setting, source, "
                "model, created_by, created_at) VALUES ('e', 1, 't', 'h', 'inpatient', 'json', "
                "'{}', 'k', CURRENT_TIMESTAMP)"
            )
        )
        session.execute(
            text(
                "INSERT INTO audit_events (note_id, action, actor, details, created_at) "
                "VALUES (1, 'note.created', 'k', '{}', CURRENT_TIMESTAMP)"
            )
        )

    with pytest.raises(DBAPIError, match="append-only"), db.write() as session:
        session.execute(text(statement.format(table="audit_events")))

    with db.read() as session:
        assert session.execute(text("SELECT actor FROM audit_events")).scalars().all() == ["k"]


@pytest.mark.parametrize("statement", ["UPDATE decisions SET code = 'X'", "DELETE FROM decisions"])
def test_decisions_are_append_only_in_the_database(db: Database, statement: str) -> None:
    upgrade(db)
    with db.write() as session:
        session.execute(
            text(
                "INSERT INTO notes (external_id, version, text, text_sha256, setting, source, "
                "model, created_by, created_at) VALUES ('e', 1, 't', 'h', 'inpatient', 'json', "
                "'{}', 'k', CURRENT_TIMESTAMP)"
            )
        )
        session.execute(
            text(
                "INSERT INTO suggestions (note_id, rank, system, code, description, evidence, "
                "demo, needs_specificity, shown, origin, status, created_at) VALUES (1, 0, "
                "'icd10cm', 'I10', 'd', '[]', false, false, true, 'model', 'accepted', "
                "CURRENT_TIMESTAMP)"
            )
        )
        session.execute(
            text(
                "INSERT INTO decisions (suggestion_id, note_id, sequence, action, coder, "
                "created_at) VALUES (1, 1, 1, 'accept', 'k', CURRENT_TIMESTAMP)"
            )
        )

    with pytest.raises(DBAPIError, match="append-only"), db.write() as session:
        session.execute(text(statement))
