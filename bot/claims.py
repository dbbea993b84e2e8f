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
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, delete, select, update

from bot.models import STATUS_DONE, STATUS_PROCESSING, InboundMessage

_TABLE = cast(Table, InboundMessage.__table__)
KEY_CHARS = 160
CLAIMS_PER_STATEMENT = 500


@dataclass(frozen=True)
class StoredReply:
    """The outcome of a message someone else answered."""

    status: str
    reply: str | None
    via: str

    @property
    def done(self) -> bool:
        return self.status == STATUS_DONE


_UPDATE_VIA = (
    update(_TABLE)
    .where(_TABLE.c.dedupe_key == bindparam("key"))
    .values(via=bindparam("via"), error=bindparam("error"), updated_at=bindparam("now"))
)
_LOOKUP = select(_TABLE.c.status, _TABLE.c.reply, _TABLE.c.via).where(_TABLE.c.dedupe_key == bindparam("key"))


class ClaimStore:
    """Claim, finish, look up and prune inbound messages; each method takes the connection to use."""

    def __init__(self, dialect: str) -> None:
        self._sqlite = dialect == "sqlite"

    def claim_many(self, conn: Connection, claims: list[tuple[str, str, str, dt.datetime]]) -> list[bool]:
        """Claim ``(key, sender, msg_type, now)`` s in one multi-row INSERT; whether each won. Plain SQL on
        the driver's cursor: it runs for every message, and SQLAlchemy's per-statement work would cost
        several times what the database spends on it."""
        if len(claims) > CLAIMS_PER_STATEMENT:  # (SQLite allows 32,766 parameters a statement)
            return [w for n in range(0, len(claims), CLAIMS_PER_STATEMENT)
                    for w in self.claim_many(conn, claims[n : n + CLAIMS_PER_STATEMENT])]  # fmt: skip
        p = "?" if self._sqlite else "%s"
        values = ", ".join([f"({p}, {p}, {p}, '{STATUS_PROCESSING}', '', '', {p}, {p})"] * len(claims))
        sql = (
            "INSERT INTO bot_inbound_messages (dedupe_key, openid, msg_type, status, via, error, created_at,"
            f" updated_at) VALUES {values} ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key"
        )
        params: list[Any] = []
        for key, sender, msg_type, now in claims:
            when = self._when(now)
            params += [key[:KEY_CHARS], sender[:64], msg_type[:16], when, when]
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, params)
            inserted = {row[0] for row in cursor.fetchall()}
        finally:
            cursor.close()
        won = []
        for key, *_ in claims:  # (a key twice in one batch: the first one won)
            won.append(key[:KEY_CHARS] in inserted)
            inserted.discard(key[:KEY_CHARS])
        return won

    def finish(self, conn: Connection, *, key: str, reply: str | None, via: str, error: str, now: dt.datetime) -> None:
        """Store the reply of ``key`` (plain SQL, as the claim: it runs for every message)."""
        p = "?" if self._sqlite else "%s"
        sql = f"UPDATE bot_inbound_messages SET status = '{STATUS_DONE}', reply = {p}, via = {p}, error = {p},"
        sql += f" updated_at = {p} WHERE dedupe_key = {p}"
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, (reply, via, error[:200], self._when(now), key[:KEY_CHARS]))
        finally:
            cursor.close()

    def _when(self, now: dt.datetime) -> Any:
        """``now`` as UTCDateTime stores it: UTC, and on SQLite without an offset."""
        when = now.astimezone(dt.UTC)
        return when.replace(tzinfo=None).isoformat(" ") if self._sqlite else when

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
