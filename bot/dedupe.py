"""Deduplicating WeChat's retries in the database, so it holds across restarts and processes.

WeChat retries a message three times when it got no reply within 5 s. Each message is *claimed*
by inserting a row with its dedupe key (MsgId, or FromUserName + CreateTime for events); the
unique key makes every other insert fail, on SQLite and PostgreSQL alike, so exactly one request
— in any process — computes the answer. The others wait for it:

- in the same process through an in-memory future (no polling);
- across processes by polling the row until it is ``done`` or the budget runs out.

A retry gets the stored reply back when it went out as a passive reply (WeChat only shows one),
and ``success`` when it went out through the customer-service API or was nothing at all.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.models import STATUS_DONE, STATUS_PROCESSING, InboundMessage
from core.db import utcnow


@dataclass(frozen=True)
class StoredReply:
    """The outcome of a message someone else answered."""

    status: str
    reply: str | None
    via: str

    @property
    def done(self) -> bool:
        return self.status == STATUS_DONE


class Deduper:
    """Claims messages and hands their answers to retries."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], *, poll_interval: float = 0.05) -> None:
        self.sessionmaker = sessionmaker
        self.poll_interval = poll_interval
        self._local: dict[str, asyncio.Future[StoredReply]] = {}

    async def claim(self, key: str, *, openid: str = "", msg_type: str = "") -> bool:
        """Insert the row for ``key``; True when this call won (nobody claimed it before)."""
        now = utcnow()
        stmt = insert(InboundMessage).values(
            dedupe_key=key[:160],
            openid=openid[:64],
            msg_type=msg_type[:16],
            status=STATUS_PROCESSING,
            via="",
            error="",
            created_at=now,
            updated_at=now,
        )
        try:
            async with self.sessionmaker.begin() as session:
                await session.execute(stmt)
        except IntegrityError:
            return False
        self._local[key] = asyncio.get_running_loop().create_future()
        return True

    async def finish(self, key: str, reply: str | None, via: str, *, error: str = "") -> None:
        """Store the answer of a claimed message and wake the retries waiting for it."""
        stored = StoredReply(STATUS_DONE, reply, via)
        try:
            stmt = (
                update(InboundMessage)
                .where(InboundMessage.dedupe_key == key[:160])
                .values(status=STATUS_DONE, reply=reply, via=via, error=error[:200], updated_at=utcnow())
            )
            async with self.sessionmaker.begin() as session:
                await session.execute(stmt)
        finally:
            future = self._local.pop(key, None)
            if future is not None and not future.done():
                future.set_result(stored)

    async def update_via(self, key: str, via: str, *, error: str = "") -> None:
        """Record how an answer finally went out (customer service, or the send failed)."""
        stmt = (
            update(InboundMessage)
            .where(InboundMessage.dedupe_key == key[:160])
            .values(via=via, error=error[:200], updated_at=utcnow())
        )
        async with self.sessionmaker.begin() as session:
            await session.execute(stmt)

    def abandon(self, key: str) -> None:
        """Wake local waiters of a claim that will never be finished (shutdown)."""
        future = self._local.pop(key, None)
        if future is not None and not future.done():
            future.set_result(StoredReply(STATUS_PROCESSING, None, ""))

    async def lookup(self, key: str) -> StoredReply | None:
        stmt = select(InboundMessage.status, InboundMessage.reply, InboundMessage.via).where(
            InboundMessage.dedupe_key == key[:160]
        )
        async with self.sessionmaker() as session:
            row = (await session.execute(stmt)).first()
        return None if row is None else StoredReply(row[0], row[1], row[2])

    async def wait_for(self, key: str, timeout: float) -> StoredReply | None:
        """The stored answer of ``key`` once it is done, or ``None`` when ``timeout`` runs out first."""
        future = self._local.get(key)
        if future is not None:
            try:
                result = await asyncio.wait_for(asyncio.shield(future), timeout)
            except TimeoutError:
                return None
            return result if result.done else None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        while True:
            stored = await self.lookup(key)
            if stored is not None and stored.done:
                return stored
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            await asyncio.sleep(min(self.poll_interval, remaining))

    async def prune(self, before: dt.datetime) -> int:
        """Delete rows created before ``before`` (WeChat stops retrying after ~15 s)."""
        async with self.sessionmaker.begin() as session:
            result = await session.execute(delete(InboundMessage).where(InboundMessage.created_at < before))
        return int(getattr(result, "rowcount", 0) or 0)
