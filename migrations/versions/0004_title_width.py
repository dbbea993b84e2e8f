"""Titles of catalog items and village list rows hold 200 characters, the documented title limit

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("catalog_items", "village_list_rows")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column("title", type_=sa.String(200), existing_type=sa.String(128), existing_nullable=False)


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column("title", type_=sa.String(128), existing_type=sa.String(200), existing_nullable=False)
