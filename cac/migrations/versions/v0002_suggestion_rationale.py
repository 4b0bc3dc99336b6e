"""Suggestions carry why they are shown or kept back: rationale, suppressed_by, alternatives,
and the kind of each evidence span.

``rationale`` is a JSON list of ``{rule, section, detail}`` (the coding rules that made or kept a
shown code), ``suppressed_by`` a JSON ``{rule, section, code, detail}`` or NULL (the convention
rule that kept a candidate from the shown list), ``alternatives`` a JSON list of the billable
codes a ``needs_specificity`` node can become, and ``evidence_kinds`` a JSON list parallel to
``evidence`` (``mention``, ``abbreviation``, ``combination``). Rows coded before this migration
get empty lists and NULL; an evidence span without a kind reads as ``mention``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LISTS = ("rationale", "alternatives", "evidence_kinds")


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN on both backends (a constant default needs no table copy
    # on SQLite); the default fills the rows already there.
    for name in _LISTS:
        op.add_column("suggestions", sa.Column(name, sa.JSON, nullable=False, server_default="[]"))
    op.add_column("suggestions", sa.Column("suppressed_by", sa.JSON, nullable=True))


def downgrade() -> None:
    # SQLite 3.35+ drops a column in place; no table copy, so the foreign keys of decisions and
    # audit events and the table's CHECK constraints stay as they are.
    for name in ("suppressed_by", *reversed(_LISTS)):
        op.drop_column("suggestions", name)
