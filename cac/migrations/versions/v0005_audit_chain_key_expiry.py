"""Audit events are hash-chained; API keys can expire.

``audit_events.prev_hash`` and ``hash`` chain every event to the one before it
(``cac.db.chain``); the events already stored are chained here, in id order, with the
append-only triggers lifted for that one back-fill and put back. ``api_keys.expires_at`` is
NULL (never expires) for the keys already issued.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cac.db.chain import GENESIS, event_hash

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENTS = sa.table(
    "audit_events",
    sa.column("id", sa.Integer),
    sa.column("note_id", sa.Integer),
    sa.column("action", sa.String),
    sa.column("actor", sa.String),
    sa.column("suggestion_id", sa.Integer),
    sa.column("decision_id", sa.Integer),
    sa.column("details", sa.JSON),
    sa.column("request_id", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("prev_hash", sa.String),
    sa.column("hash", sa.String),
)


def _triggers(on: bool) -> None:
    """Lift or restore audit_events' append-only triggers (made by 0001)."""
    if op.get_bind().dialect.name == "postgresql":
        verb = "ENABLE" if on else "DISABLE"
        op.execute(f"ALTER TABLE audit_events {verb} TRIGGER audit_events_append_only")
        return
    for action in ("UPDATE", "DELETE"):
        name = f"audit_events_no_{action.lower()}"
        if on:
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {action} ON audit_events "
                "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
            )
        else:
            op.execute(f"DROP TRIGGER {name}")


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("audit_events", sa.Column("prev_hash", sa.String(64), nullable=True))
    op.add_column("audit_events", sa.Column("hash", sa.String(64), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.select(_EVENTS).order_by(_EVENTS.c.id)).mappings().all()
    if not rows:
        return
    _triggers(False)
    previous = GENESIS
    for row in rows:
        digest = event_hash(previous, dict(row))
        bind.execute(
            _EVENTS.update()
            .where(_EVENTS.c.id == row["id"])
            .values(prev_hash=previous, hash=digest)
        )
        previous = digest
    _triggers(True)


def downgrade() -> None:
    op.drop_column("audit_events", "hash")
    op.drop_column("audit_events", "prev_hash")
    op.drop_column("api_keys", "expires_at")
