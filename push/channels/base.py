"""The channel protocol and what a channel may use while sending (:class:`SendContext`).

A channel turns one claimed delivery into platform calls and returns ``Sent``, or raises ``Retry``,
``Permanent`` or ``Uncertain`` (``push.delivery``). Database work runs in a thread (library code is written
against a sync ``Session``); rate budgets are taken from the database, so every worker process shares them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import aiohttp
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from push import queue
from push.delivery import Claimed, Permanent, Retry, Sent
from push.models import Notice
from push.settings import PushSettings
from village_lists.models import Village
from wechat.client import WeChatClient

T = TypeVar("T")
BLOCK = 20
"""Send times reserved at once on a fast channel."""
Sleep = Callable[[float], Awaitable[None]]


class Channel(Protocol):
    name: str

    async def send(self, job: Claimed, ctx: SendContext) -> Sent: ...


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class SendContext:
    engine: Engine
    settings: PushSettings
    http: aiohttp.ClientSession
    wecom_api_base: str
    worker: str = "worker"
    wechat: WeChatClient | None = None
    now: Callable[[], dt.datetime] = _utcnow
    epoch: Callable[[], float] = time.time
    sleep: Sleep = asyncio.sleep
    max_pace_wait: float = 5.0
    _notices: dict[str, asyncio.Future[Notice | None]] = field(default_factory=dict)
    tag_ids: dict[str, int] = field(default_factory=dict)
    _blocks: dict[str, deque[float]] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(session, *args)`` in a thread, in one transaction."""

        def run() -> T:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                return fn(session, *args)

        return await asyncio.to_thread(run)

    async def notice(self, notice_id: str) -> Notice:
        """The notice as it is now (read once per claimed batch, by the first send that asks); refused unless
        it is approved."""
        read = self._notices.get(notice_id)
        if read is None:
            read = self._notices[notice_id] = asyncio.ensure_future(self.db(lambda s: s.get(Notice, notice_id)))
        cached = await asyncio.shield(read)
        if cached is None:
            raise Permanent(f"通知 {notice_id} 不存在")
        if not cached.approved_by or cached.status in ("draft", "cancelled"):
            raise Permanent(f"通知 {notice_id} 未通过发布审查或已撤销（状态：{cached.status}），未发送")
        return cached

    def lock(self, name: str) -> asyncio.Lock:
        """An in-process lock by name (one tag creation, one block reservation at a time)."""
        return self._locks.setdefault(name, asyncio.Lock())

    def forget_notices(self) -> None:
        """Drop the notices read for the last batch (an edit or a cancel shows in the next one)."""
        self._notices.clear()

    async def village(self, code: str) -> Village | None:
        return await self.db(lambda s: s.get(Village, code))

    async def pace(self, key: str, interval: float, n: int = 1) -> float:
        """Reserve ``n`` send times for ``key`` and wait for the first; returns it (epoch seconds).

        When the budget is taken further ahead than ``max_pace_wait``, raises ``Retry`` (not counted as a
        failed attempt) so the row goes back to the queue until then instead of holding a worker. On fast
        channels (template messages) send times are reserved a block at a time and handed out here, so the
        shared counter is not updated once per message.
        """
        if n == 1 and interval * BLOCK <= 1.0:
            return await self._pace_from_block(key, interval)
        return await self._reserve(key, interval, n)

    async def _pace_from_block(self, key: str, interval: float) -> float:
        async with self._locks.setdefault(key, asyncio.Lock()):
            block = self._blocks.setdefault(key, deque())
            while block and block[0] < self.epoch() - 1.0:  # stale reservations are dropped, never bunched
                block.popleft()
            if not block:
                start = await self._reserve(key, interval, BLOCK, wait=False)
                block.extend(start + i * interval for i in range(BLOCK))
            when = block.popleft()
        await self.wait_until(when)
        return when

    async def _reserve(self, key: str, interval: float, n: int, *, wait: bool = True) -> float:
        now = self.epoch()
        start = await asyncio.to_thread(
            queue.acquire_rate, self.engine, key, interval, now, n=n, max_wait=self.max_pace_wait
        )
        if start is None:
            free = await asyncio.to_thread(queue.next_free, self.engine, key)
            raise Retry("发送频率已达上限，稍后发送", after=max(0.5, free - now - self.max_pace_wait / 2), count=False)
        if wait:
            await self.wait_until(start)
        return start

    async def wait_until(self, epoch: float) -> None:
        delay = epoch - self.epoch()
        if delay > 0:
            await self.sleep(delay)
