"""ORM models of the service database. The schema itself is owned by the Alembic migrations.

Decisions and audit events are append-only: no code path updates or deletes them, and the
migrations add database triggers that refuse it. A suggestion's ``status`` is the outcome of its
active (latest) decision, written in the same transaction that appends the decision.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class ApiKey(Base):
    """An API key: only the SHA-256 of the key is stored. A name is unique among active keys."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(32))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # a key past this moment is refused like a revoked one (NULL: it does not expire)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    __table_args__ = (
        Index(
            "uq_api_keys_active_name",
            "name",
            unique=True,
            sqlite_where=revoked_at.is_(None),
            postgresql_where=revoked_at.is_(None),
        ),
    )


class Note(Base):
    """One version of a clinical note. Re-posting an external id with new text adds a version."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64))
    setting: Mapped[str] = mapped_column(String(16))
    patient_ref: Mapped[str | None] = mapped_column(String(200), default=None)
    encounter_ref: Mapped[str | None] = mapped_column(String(200), default=None)
    # age in years at the encounter and administrative sex, from a FHIR Patient; never logged
    patient_age: Mapped[int | None] = mapped_column(Integer, default=None)
    patient_sex: Mapped[str | None] = mapped_column(String(8), default=None)
    # the principal diagnosis a coder chose (migration 0004); NULL: cac.impact selects it
    principal_code: Mapped[str | None] = mapped_column(String(16), default=None)
    principal_set_by: Mapped[str | None] = mapped_column(String(200), default=None)
    source: Mapped[str] = mapped_column(String(16))
    model: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    suggestions: Mapped[list[Suggestion]] = relationship(
        back_populates="note", order_by="Suggestion.rank", lazy="raise"
    )

    __table_args__ = (UniqueConstraint("external_id", "version", name="uq_notes_version"),)


class Suggestion(Base):
    """A code on a note: proposed by the model (``origin='model'``) or added by a coder."""

    __tablename__ = "suggestions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("notes.id"), index=True)
    rank: Mapped[int] = mapped_column(Integer)
    system: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float | None] = mapped_column(Float, default=None)
    evidence: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [[start, end], ...]
    # Parallel to ``evidence``: each span's kind (mention, abbreviation, combination); a span
    # without one (stored before migration 0002, or added by a coder) is a mention.
    evidence_kinds: Mapped[list[Any]] = mapped_column(JSON, default=list, server_default="[]")
    assertion: Mapped[str | None] = mapped_column(String(16), default=None)
    demo: Mapped[bool] = mapped_column(default=False)
    needs_specificity: Mapped[bool] = mapped_column(default=False)
    shown: Mapped[bool] = mapped_column(default=True)
    # Why the pipeline shows or keeps back the code (cac.coding.records): [{rule, section,
    # detail}, ...] for a shown code; {rule, section, code, detail} for one a convention rule
    # kept out of the shown list; the billable children of a needs_specificity node.
    rationale: Mapped[list[Any]] = mapped_column(JSON, default=list, server_default="[]")
    suppressed_by: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    alternatives: Mapped[list[Any]] = mapped_column(JSON, default=list, server_default="[]")
    origin: Mapped[str] = mapped_column(String(16))
    model_version: Mapped[str | None] = mapped_column(String(100), default=None)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    note: Mapped[Note] = relationship(back_populates="suggestions", lazy="raise")


class Decision(Base):
    """A coder's decision on a suggestion. ``sequence`` numbers the decisions of one suggestion;
    the unique (suggestion, sequence) pair is what stops two concurrent decisions from both
    becoming the active one."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    suggestion_id: Mapped[int] = mapped_column(ForeignKey("suggestions.id"))
    note_id: Mapped[int] = mapped_column(ForeignKey("notes.id"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    system: Mapped[str | None] = mapped_column(String(16), default=None)
    code: Mapped[str | None] = mapped_column(String(16), default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    coder: Mapped[str] = mapped_column(String(100))
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("suggestion_id", "sequence", name="uq_decisions_sequence"),)


class AuditEvent(Base):
    """One entry of a note's append-only history. ``details`` never holds note text."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("notes.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(100))
    suggestion_id: Mapped[int | None] = mapped_column(ForeignKey("suggestions.id"), default=None)
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # the hash chain (cac.db.chain): the previous event's hash and this one's
    prev_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    hash: Mapped[str | None] = mapped_column(String(64), default=None)
