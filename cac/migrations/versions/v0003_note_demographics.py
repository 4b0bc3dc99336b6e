"""Notes carry the patient's age at the encounter and administrative sex.

``patient_age`` (whole years) and ``patient_sex`` (``male``, ``female``, ``other``,
``unknown``, FHIR ``Patient.gender``) come from the ``Patient`` of a posted FHIR Bundle; both are
NULL for notes without one, and for the notes stored before this migration.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns without a default: a plain ALTER TABLE ... ADD COLUMN on both backends.
    op.add_column("notes", sa.Column("patient_age", sa.Integer, nullable=True))
    op.add_column("notes", sa.Column("patient_sex", sa.String(8), nullable=True))


def downgrade() -> None:
    # SQLite 3.35+ drops a column in place (no table copy: the notes' constraints stay).
    op.drop_column("notes", "patient_sex")
    op.drop_column("notes", "patient_age")
