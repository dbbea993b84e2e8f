"""Openids kept private: the question log and the dedupe rows hold an HMAC of the openid, never the openid.

The key is made once per installation (32 random bytes) and kept in ``bot_secrets``, so every process
of the installation hashes alike (distinct askers can be counted) while a hash means nothing to
anyone without the database. Raw openids stay only in ``followers``, which is needed to send to them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import cast

from sqlalchemy import Connection, Table, select

from bot.models import BotSecret
from core.db import insert_ignore

KEY_NAME = "openid_hmac"


def load_or_create_key(conn: Connection) -> bytes:
    """This installation's key (made and stored on first use; a concurrent first use keeps one)."""
    table = cast(Table, BotSecret.__table__)
    row = conn.execute(select(table.c.value).where(table.c.name == KEY_NAME)).scalar()
    if row is None:
        conn.execute(insert_ignore(conn.dialect.name, table).values(name=KEY_NAME, value=secrets.token_hex(32)))
        row = conn.execute(select(table.c.value).where(table.c.name == KEY_NAME)).scalar_one()
    return bytes.fromhex(row)


class OpenidHasher:
    """``hasher(openid)`` → 32 hex characters of HMAC-SHA256 under the installation's key (``""`` for ``""``)."""

    def __init__(self, key: bytes | None = None) -> None:
        self.key = key

    def __call__(self, openid: str) -> str:
        if not openid:
            return ""
        if self.key is None:
            raise RuntimeError("the openid key is not loaded yet")
        return hmac.new(self.key, openid.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
