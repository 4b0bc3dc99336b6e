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
from cac.db.models import Base, Note, Suggestion

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


def _migrate(db: Database, verb: str, revision: str) -> None:
    config = _config()
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        getattr(command, verb)(config, revision)


def _suggestion_columns(db: Database) -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_columns("suggestions")}


RATIONALE_COLUMNS = {"rationale", "suppressed_by", "alternatives", "evidence_kinds"}


def test_0002_gives_existing_suggestions_empty_rationale_and_downgrades_keeping_them(
    db: Database,
) -> None:
    _migrate(db, "upgrade", "0001")
    assert not RATIONALE_COLUMNS & _suggestion_columns(db)
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
                "'icd10cm', 'I10', 'd', '[[0, 3]]', false, false, true, 'model', 'pending', "
                "CURRENT_TIMESTAMP)"
            )
        )

    _migrate(db, "upgrade", "0002")

    assert current_revision(db) == "0002"
    assert _suggestion_columns(db) >= RATIONALE_COLUMNS
    with db.read() as session:
        stored = session.get_one(Suggestion, 1)
        assert (stored.rationale, stored.suppressed_by, stored.alternatives) == ([], None, [])
        assert (stored.evidence, stored.evidence_kinds) == ([[0, 3]], [])
    with db.write() as session:  # a new row takes the new fields
        session.add(
            Suggestion(
                note_id=1,
                rank=1,
                system="icd10cm",
                code="R50.9",
                description="d",
                evidence=[[5, 10]],
                evidence_kinds=["mention"],
                shown=False,
                rationale=[],
                suppressed_by={"rule": "r", "section": "I.B.5", "code": "J18.9", "detail": ""},
                alternatives=["R50.81"],
                origin="model",
            )
        )
    with db.read() as session:
        assert session.get_one(Suggestion, 2).suppressed_by == {
            "rule": "r",
            "section": "I.B.5",
            "code": "J18.9",
            "detail": "",
        }

    _migrate(db, "downgrade", "0001")

    assert current_revision(db) == "0001"
    assert not RATIONALE_COLUMNS & _suggestion_columns(db)
    with db.read() as session:
        codes = session.execute(text("SELECT code FROM suggestions ORDER BY id")).scalars()
        assert list(codes) == ["I10", "R50.9"]
    # the constraints of 0001 are still there after the downgrade
    with pytest.raises(DBAPIError), db.write() as session:
        session.execute(text("UPDATE suggestions SET origin = 'robot'"))


def _note_columns(db: Database) -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_columns("notes")}


def test_0003_adds_age_and_sex_null_for_existing_notes_and_downgrades_keeping_them(
    db: Database,
) -> None:
    _migrate(db, "upgrade", "0002")
    assert not {"patient_age", "patient_sex"} & _note_columns(db)
    with db.write() as session:
        session.execute(
            text(
                "INSERT INTO notes (external_id, version, text, text_sha256, setting, source, "
                "model, created_by, created_at) VALUES ('e', 1, 't', 'h', 'inpatient', 'json', "
                "'{}', 'k', CURRENT_TIMESTAMP)"
            )
        )

    _migrate(db, "upgrade", "0003")

    assert current_revision(db) == "0003"
    # raw SQL: the ORM model has the columns of later revisions (0004's principal_code)
    with db.read() as session:
        old = session.execute(text("SELECT patient_age, patient_sex FROM notes WHERE id = 1"))
        assert tuple(old.one()) == (None, None)
    with db.write() as session:
        session.execute(
            text(
                "INSERT INTO notes (external_id, version, text, text_sha256, setting, source, "
                "model, created_by, created_at, patient_age, patient_sex) VALUES ('f', 1, 't', "
                "'h', 'inpatient', 'fhir', '{}', 'k', CURRENT_TIMESTAMP, 76, 'female')"
            )
        )
    with db.read() as session:
        new = session.execute(text("SELECT patient_age, patient_sex FROM notes WHERE id = 2"))
        assert tuple(new.one()) == (76, "female")

    _migrate(db, "downgrade", "0002")

    assert not {"patient_age", "patient_sex"} & _note_columns(db)
    with db.read() as session:
        ids = session.execute(text("SELECT external_id FROM notes ORDER BY id")).scalars()
        assert list(ids) == ["e", "f"]


def test_0004_adds_the_coders_principal_null_for_existing_notes_and_downgrades(
    db: Database,
) -> None:
    _migrate(db, "upgrade", "0003")
    with db.write() as session:
        session.execute(
            text(
                "INSERT INTO notes (external_id, version, text, text_sha256, setting, source, "
                "model, created_by, created_at) VALUES ('e', 1, 't', 'h', 'inpatient', 'json', "
                "'{}', 'k', CURRENT_TIMESTAMP)"
            )
        )

    _migrate(db, "upgrade", "0004")

    assert current_revision(db) == "0004"
    with db.write() as session:
        old = session.get_one(Note, 1)
        assert (old.principal_code, old.principal_set_by) == (None, None)
        old.principal_code, old.principal_set_by = "J18.9", "coder-key"
    with db.read() as session:
        assert session.get_one(Note, 1).principal_code == "J18.9"

    _migrate(db, "downgrade", "0003")

    assert not {"principal_code", "principal_set_by"} & _note_columns(db)


def test_0005_chains_the_events_already_stored_and_keeps_them_append_only(db: Database) -> None:
    from cac.db import audit

    _migrate(db, "upgrade", "0004")
    with db.write() as session:
        session.execute(
            text(
                "INSERT INTO notes (external_id, version, text, text_sha256, setting, source, "
                "model, created_by, created_at) VALUES ('e', 1, 't', 'h', 'inpatient', 'json', "
                "'{}', 'k', CURRENT_TIMESTAMP)"
            )
        )
        for action in ("note.created", "note.coded"):
            session.execute(
                text(
                    "INSERT INTO audit_events (note_id, action, actor, details, created_at) "
                    f"VALUES (1, '{action}', 'k', '{{\"n\": 1}}', CURRENT_TIMESTAMP)"
                )
            )

    _migrate(db, "upgrade", "0005")

    with db.write() as session:
        audit.append(session, 1, audit.AuditAction.NOTE_READ, "coder")
    with db.read() as session:
        report = audit.verify(session)
    assert (report.events, report.broken_at) == (3, None)
    with pytest.raises(DBAPIError, match="append-only"), db.write() as session:
        session.execute(text("UPDATE audit_events SET actor = 'x'"))

    _migrate(db, "downgrade", "0004")
    with db.read() as session:
        assert session.execute(text("SELECT count(*) FROM audit_events")).scalar_one() == 3
