"""Notes carry the principal diagnosis a coder chose.

``principal_code`` is NULL until a coder sets it (``PUT /v1/notes/{id}/principal``); while NULL
the impact stage selects the principal itself (Guidelines Section II). ``principal_set_by`` is
the key name of that coder; the audit log keeps the history.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("notes", sa.Column("principal_code", sa.String(16), nullable=True))
    op.add_column("notes", sa.Column("principal_set_by", sa.String(200), nullable=True))


def downgrade() -> None:
    op.drop_column("notes", "principal_set_by")
    op.drop_column("notes", "principal_code")
