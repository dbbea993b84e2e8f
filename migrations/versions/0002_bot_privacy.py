"""bot privacy: a per-installation key for openid HMACs; no raw openids in bot_inbound_messages.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    secrets_table = op.create_table(
        "bot_secrets",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_bot_secrets")),
    )
    op.bulk_insert(
        secrets_table, [{"name": "openid_hmac", "value": secrets.token_hex(32), "created_at": dt.datetime.now(dt.UTC)}]
    )
    # rows kept for dedupe (two days) held raw openids: they need none
    op.execute("UPDATE bot_inbound_messages SET openid = ''")


def downgrade() -> None:
    op.drop_table("bot_secrets")
