"""Notes, suggestions, append-only decisions and audit events, API keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_APPEND_ONLY = ("decisions", "audit_events")


def _timestamp(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        _timestamp("created_at"),
        _timestamp("revoked_at", nullable=True),
        sa.CheckConstraint("role IN ('ehr', 'coder', 'data_scientist', 'admin')", "ck_key_role"),
    )
    op.create_index(
        "uq_api_keys_active_name",
        "api_keys",
        ["name"],
        unique=True,
        sqlite_where=sa.text("revoked_at IS NULL"),
        postgresql_where=sa.text("revoked_at IS NULL"),
    )
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("external_id", sa.String(200), nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("text_sha256", sa.String(64), nullable=False),
        sa.Column("setting", sa.String(16), nullable=False),
        sa.Column("patient_ref", sa.String(200)),
        sa.Column("encounter_ref", sa.String(200)),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("model", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        _timestamp("created_at"),
        sa.UniqueConstraint("external_id", "version", name="uq_notes_version"),
        sa.CheckConstraint("setting IN ('inpatient', 'outpatient')", "ck_note_setting"),
    )
    op.create_table(
        "suggestions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("note_id", sa.Integer, sa.ForeignKey("notes.id"), nullable=False, index=True),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("system", sa.String(16), nullable=False),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("confidence", sa.Float),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("assertion", sa.String(16)),
        sa.Column("demo", sa.Boolean, nullable=False),
        sa.Column("needs_specificity", sa.Boolean, nullable=False),
        sa.Column("shown", sa.Boolean, nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("model_version", sa.String(100)),
        sa.Column("status", sa.String(16), nullable=False),
        _timestamp("created_at"),
        sa.CheckConstraint("origin IN ('model', 'coder')", "ck_suggestion_origin"),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'rejected', 'replaced')", "ck_suggestion_status"
        ),
    )
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("suggestion_id", sa.Integer, sa.ForeignKey("suggestions.id"), nullable=False),
        sa.Column("note_id", sa.Integer, sa.ForeignKey("notes.id"), nullable=False, index=True),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("system", sa.String(16)),
        sa.Column("code", sa.String(16)),
        sa.Column("reason", sa.Text),
        sa.Column("coder", sa.String(100), nullable=False),
        sa.Column("supersedes_id", sa.Integer, sa.ForeignKey("decisions.id")),
        _timestamp("created_at"),
        sa.UniqueConstraint("suggestion_id", "sequence", name="uq_decisions_sequence"),
        sa.CheckConstraint(
            "action IN ('accept', 'reject', 'replace', 'add')", "ck_decision_action"
        ),
        sa.CheckConstraint("sequence >= 1", "ck_decision_sequence"),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("note_id", sa.Integer, sa.ForeignKey("notes.id"), nullable=False, index=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("suggestion_id", sa.Integer, sa.ForeignKey("suggestions.id")),
        sa.Column("decision_id", sa.Integer, sa.ForeignKey("decisions.id")),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("request_id", sa.String(64)),
        _timestamp("created_at"),
    )
    _append_only_triggers()


def _append_only_triggers() -> None:
    """Refuse UPDATE and DELETE on decisions and audit events in the database itself."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION cac_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
            END $$;
            """
        )
        for table in _APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION cac_append_only()"
            )
        return
    for table in _APPEND_ONLY:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def downgrade() -> None:
    for table in ("audit_events", "decisions", "suggestions", "notes"):
        op.drop_table(table)
    op.drop_index("uq_api_keys_active_name", "api_keys")
    op.drop_table("api_keys")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS cac_append_only()")
