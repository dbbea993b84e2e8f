"""The inbound-message table as the dedupe record: plain SQL on a connection the caller gives.

A message is *claimed* by inserting its row (dedupe key: MsgId, or FromUserName + CreateTime for
events) with ``ON CONFLICT DO NOTHING RETURNING id``: a returned row says this insert won, on
SQLite and PostgreSQL alike, in any process. The winner later stores the reply (``finish``); a
retry that lost reads it (``lookup``). Rows older than two days are pruned.

Writes run in :class:`~bot.writer.Writer`'s connection; reads on any connection (the bot polls
``lookup`` through its AsyncEngine with ``run_sync``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.models import STATUS_DONE, STATUS_PROCESSING, InboundMessage

_TABLE = cast(Table, InboundMessage.__table__)
KEY_CHARS = 160


@dataclass(frozen=True)
class StoredReply:
    """The outcome of a message someone else answered."""

    status: str
    reply: str | None
    via: str

    @property
    def done(self) -> bool:
        return self.status == STATUS_DONE


_FINISH = (
    update(_TABLE)
    .where(_TABLE.c.dedupe_key == bindparam("key"))
    .values(
        status=STATUS_DONE,
        reply=bindparam("reply"),
        via=bindparam("via"),
        error=bindparam("error"),
        updated_at=bindparam("now"),
    )
)
_UPDATE_VIA = (
    update(_TABLE)
    .where(_TABLE.c.dedupe_key == bindparam("key"))
    .values(via=bindparam("via"), error=bindparam("error"), updated_at=bindparam("now"))
)
_LOOKUP = select(_TABLE.c.status, _TABLE.c.reply, _TABLE.c.via).where(_TABLE.c.dedupe_key == bindparam("key"))


def _claim_statement(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(_TABLE).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(_TABLE.c.id)


class ClaimStore:
    """Claim, finish, look up and prune inbound messages; each method takes the connection to use."""

    def __init__(self, dialect: str) -> None:
        self._claim = _claim_statement(dialect)

    def claim(self, conn: Connection, *, key: str, sender: str, msg_type: str, now: dt.datetime) -> bool:
        """Insert the row of ``key``: True when this insert won (nobody claimed it before)."""
        row = {
            "dedupe_key": key[:KEY_CHARS],
            "openid": sender[:64],
            "msg_type": msg_type[:16],
            "status": STATUS_PROCESSING,
            "created_at": now,
            "updated_at": now,
        }
        return conn.execute(self._claim, row).first() is not None

    @staticmethod
    def finish(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Store the replies (rows of ``key``, ``reply``, ``via``, ``error``, ``now``) in one statement."""
        conn.execute(_FINISH, [dict(r, key=r["key"][:KEY_CHARS], error=r["error"][:200]) for r in rows])

    @staticmethod
    def update_via(conn: Connection, *, key: str, via: str, error: str, now: dt.datetime) -> None:
        """Record how an answer finally went out (customer service, or the send failed)."""
        conn.execute(_UPDATE_VIA, {"key": key[:KEY_CHARS], "via": via, "error": error[:200], "now": now})

    @staticmethod
    def lookup(conn: Connection, key: str) -> StoredReply | None:
        row = conn.execute(_LOOKUP, {"key": key[:KEY_CHARS]}).first()
        return None if row is None else StoredReply(row[0], row[1], row[2])

    @staticmethod
    def prune(conn: Connection, before: dt.datetime) -> int:
        """Delete rows created before ``before`` (WeChat stops retrying after ~15 s)."""
        return int(conn.execute(delete(_TABLE).where(_TABLE.c.created_at < before)).rowcount or 0)
