"""API keys: created once, stored as a SHA-256 hash, revoked by name, optionally expiring,
and rotated (a new key for the name, the old one revoked, in one transaction)."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cac.db.engine import Database
from cac.db.models import ApiKey, utcnow
from cac.errors import CacError, ConflictError, NotFoundError

KEY_PREFIX = "cac_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")


class Role(StrEnum):
    """What a key may do; see ``cac.api.auth.PERMISSIONS``."""

    EHR = "ehr"
    CODER = "coder"
    DATA_SCIENTIST = "data_scientist"
    ADMIN = "admin"

    @classmethod
    def parse(cls, name: str) -> Role:
        """Raises: CacError naming the valid roles."""
        try:
            return cls(name.strip().lower())
        except ValueError:
            valid = ", ".join(r.value for r in cls)
            raise CacError(f"unknown role {name!r}; use one of: {valid}") from None


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A stored key without its secret."""

    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None = None
    id: int = 0


def hash_key(key: str) -> str:
    """The stored form of a key. Keys are 256 random bits, so a plain SHA-256 is enough."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(db: Database, name: str, role: Role, expires_at: datetime | None = None) -> str:
    """Store a new key and return it; this is the only time the key itself exists. A key with
    ``expires_at`` is refused from that moment on, like a revoked one.

    Raises:
        CacError: for a name that is not 1-100 letters, digits or ``._@-``, or an expiry that
            is not in the future.
        ConflictError: if an active key already has this name.
    """
    if not _NAME.match(name):
        raise CacError("a key name is 1-100 letters, digits, '.', '_', '@' or '-'")
    _check_expiry(expires_at)
    try:
        with db.write() as session:
            taken = session.scalar(
                select(ApiKey.id).where(ApiKey.name == name, ApiKey.revoked_at.is_(None))
            )
            if taken is not None:
                raise ConflictError(
                    f"an active key named {name!r} exists; revoke it first or choose another name"
                )
            return _issue(session, name, role, expires_at)
    except IntegrityError:
        raise ConflictError(f"an active key named {name!r} exists") from None


def rotate_key(db: Database, name: str, expires_at: datetime | None = None) -> str:
    """Issue a new key for ``name`` with its role and revoke the old one, in one transaction,
    and return the new key. A revoked or expired key cannot be rotated (create a new one).

    Raises:
        NotFoundError: if no active, unexpired key has this name.
        CacError: for an expiry that is not in the future.
    """
    _check_expiry(expires_at)
    with db.write() as session:
        key = session.scalar(select(ApiKey).where(ApiKey.name == name, _usable()).with_for_update())
        if key is None:
            raise NotFoundError(
                f"no active, unexpired key named {name!r}; 'cac keys list --all' shows them"
            )
        key.revoked_at = utcnow()
        session.flush()  # the name is free among active keys before the new one is added
        return _issue(session, name, Role(key.role), expires_at)


def _issue(session: Session, name: str, role: Role, expires_at: datetime | None) -> str:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(name=name, role=role.value, key_hash=hash_key(key), expires_at=expires_at))
    return key


def _check_expiry(expires_at: datetime | None) -> None:
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= utcnow()):
        raise CacError("a key's expiry must be a moment in the future, with its time zone")


def _usable() -> ColumnElement[bool]:
    """A key that is neither revoked nor past its expiry."""
    return and_(
        ApiKey.revoked_at.is_(None),
        or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > utcnow()),
    )


def revoke_key(db: Database, name: str) -> None:
    """Revoke the active key called ``name``; requests with it get 401 from then on.

    Raises:
        NotFoundError: if no active key has this name.
    """
    with db.write() as session:
        key = session.scalar(
            select(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None)).with_for_update()
        )
        if key is None:
            raise NotFoundError(f"no active key named {name!r}; 'cac keys list' shows them")
        key.revoked_at = utcnow()


def authenticate(db: Database, presented: str) -> KeyInfo | None:
    """The active key matching ``presented``, or None."""
    with db.read() as session:
        key = session.scalar(
            select(ApiKey).where(
                ApiKey.key_hash == hash_key(presented),
                _usable(),
            )
        )
        return _info(key) if key is not None else None


def active_by_id(db: Database, key_id: int) -> KeyInfo | None:
    """The key with this id if it is still active and unexpired (a workbench session names its
    key by id)."""
    with db.read() as session:
        key = session.scalar(select(ApiKey).where(ApiKey.id == key_id, _usable()))
        return _info(key) if key is not None else None


def list_keys(db: Database) -> list[KeyInfo]:
    """Every key ever created, oldest first."""
    with db.read() as session:
        return [_info(k) for k in session.scalars(select(ApiKey).order_by(ApiKey.id))]


def _info(key: ApiKey) -> KeyInfo:
    return KeyInfo(key.name, Role(key.role), key.created_at, key.revoked_at, key.expires_at, key.id)
