"""API keys: stored hashed, names unique among active keys, revocation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from cac.db.engine import Database
from cac.db.keys import Role, authenticate, create_key, hash_key, list_keys, revoke_key
from cac.db.migrate import upgrade
from cac.errors import CacError, ConflictError, NotFoundError


@pytest.fixture
def db(empty_database_url: str) -> Iterator[Database]:
    database = Database(empty_database_url)
    upgrade(database)
    yield database
    database.dispose()


def test_a_key_is_stored_only_as_its_hash(db: Database) -> None:
    key = create_key(db, "epic-bridge", Role.EHR)

    with db.read() as session:
        stored = session.execute(text("SELECT key_hash FROM api_keys")).scalars().all()
    assert stored == [hash_key(key)]
    assert key not in repr(stored)
    found = authenticate(db, key)
    assert found is not None and (found.name, found.role) == ("epic-bridge", Role.EHR)
    assert authenticate(db, key + "x") is None


def test_revoked_keys_stop_working_and_free_their_name(db: Database) -> None:
    old = create_key(db, "coder-jane", Role.CODER)
    with pytest.raises(ConflictError, match="revoke it first"):
        create_key(db, "coder-jane", Role.CODER)

    revoke_key(db, "coder-jane")
    new = create_key(db, "coder-jane", Role.CODER)

    assert authenticate(db, old) is None
    assert authenticate(db, new) is not None
    assert [(k.name, k.revoked_at is None) for k in list_keys(db)] == [
        ("coder-jane", False),
        ("coder-jane", True),
    ]
    with pytest.raises(NotFoundError):
        revoke_key(db, "nobody")


def test_names_and_roles_are_checked(db: Database) -> None:
    with pytest.raises(CacError, match="key name"):
        create_key(db, "bad name!", Role.ADMIN)
    with pytest.raises(CacError, match="use one of: ehr, coder, data_scientist, admin"):
        Role.parse("superuser")


def test_a_key_past_its_expiry_stops_working(db: Database) -> None:
    from datetime import UTC, datetime, timedelta

    with pytest.raises(CacError, match="in the future"):
        create_key(db, "temp", Role.CODER, datetime.now(UTC) - timedelta(minutes=1))
    key = create_key(db, "temp", Role.CODER, datetime.now(UTC) + timedelta(days=1))
    assert authenticate(db, key) is not None
    assert [k.expires_at is not None for k in list_keys(db)] == [True]
    with db.write() as session:  # a day passes
        session.execute(text("UPDATE api_keys SET expires_at = :t"), {"t": datetime(2000, 1, 1)})
    assert authenticate(db, key) is None


def test_rotation_issues_a_new_key_and_revokes_the_old(db: Database) -> None:
    from cac.db.keys import rotate_key

    old = create_key(db, "epic-bridge", Role.EHR)
    new = rotate_key(db, "epic-bridge")
    assert new != old
    assert authenticate(db, old) is None
    found = authenticate(db, new)
    assert found is not None and (found.name, found.role) == ("epic-bridge", Role.EHR)
    assert [k.revoked_at is not None for k in list_keys(db)] == [True, False]
    with pytest.raises(NotFoundError):
        rotate_key(db, "nobody")
