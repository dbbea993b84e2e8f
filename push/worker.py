"""The delivery worker: claim due rows with a lease, send each through its channel, write the outcome.

Any number of workers (processes, or tasks in one process) run at once: claims never overlap
(``push.queue.claim``), rate budgets are in the database, and a worker that dies leaves rows whose lease
expires; the next claim pass settles them (``push.queue.recover_expired``). Retryable failures come back
after exponential backoff with jitter; after ``max_attempts`` they fail with their reason.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
from collections.abc import Callable, Mapping

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from push import queue
from push.channels.base import Channel, SendContext
from push.delivery import Claimed, Permanent, Retry, RetryStrategy, Uncertain
from push.models import Delivery

log = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    def __init__(
        self,
        ctx: SendContext,
        channels: Mapping[str, Channel],
        *,
        name: str | None = None,
        concurrency: int = 10,
        poll_interval: float = 0.5,
        strategy: RetryStrategy | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.ctx = ctx
        self.channels = dict(channels)
        self.name = name or worker_name()
        self.ctx.worker = self.name
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.strategy = strategy or RetryStrategy(max_attempts=ctx.settings.max_attempts)
        self.clock = clock or ctx.now
        self.processed = 0
        self.drain_horizon = 10.0
        self._outcomes: list[tuple[int, dict[str, object]]] = []
        self._recovered_at: dt.datetime | None = None

    async def _claim(self, limit: int) -> list[Claimed]:
        """Settle expired leases (at most once a second), then lease up to ``limit`` due rows."""
        engine = self.ctx.engine
        now = self.clock()
        if self._recovered_at is None or (now - self._recovered_at).total_seconds() >= 1.0:
            await asyncio.to_thread(queue.recover_expired, engine, now)
            self._recovered_at = now
        jobs = await asyncio.to_thread(queue.claim, engine, self.name, limit, now, self.ctx.settings.lease_seconds)
        if jobs:
            self.ctx.forget_notices()  # the sends of this claim read each notice afresh, once
        return jobs

    async def _flush(self) -> None:
        """Write the outcomes gathered so far in one transaction."""
        if not self._outcomes:
            return
        outcomes, self._outcomes = self._outcomes, []
        held = await asyncio.to_thread(queue.finish_many, self.ctx.engine, self.name, outcomes)
        if held < len(outcomes):
            log.warning("%d deliveries: lease lost before the outcome was written", len(outcomes) - held)
        self.processed += len(outcomes)

    async def _send(self, job: Claimed) -> None:
        outcome = await self._handle(job)
        self._outcomes.append(outcome)  # the list as it is now: a flush may have replaced it meanwhile

    async def run(self, stop: asyncio.Event | None = None, *, drain: bool = False) -> int:
        """Work until ``stop`` is set, or (``drain``) until nothing is due or in flight; returns rows handled.

        Up to ``concurrency`` sends are in flight at any time: as sends finish, more rows are claimed (in
        chunks of at least a quarter of ``concurrency``), and finished outcomes are written together.
        """
        stop = stop or asyncio.Event()
        flying: set[asyncio.Task[None]] = set()
        chunk = max(1, self.concurrency // 4)
        try:
            while not stop.is_set():
                claimed = 0
                if self.concurrency - len(flying) >= chunk:
                    jobs = await self._claim(self.concurrency - len(flying))
                    flying.update(asyncio.create_task(self._send(job)) for job in jobs)
                    claimed = len(jobs)
                await self._flush()
                if flying:
                    _, flying = await asyncio.wait(flying, timeout=0.1, return_when=asyncio.FIRST_COMPLETED)
                    continue
                if claimed:
                    continue
                if drain and not await asyncio.to_thread(self._busy):
                    break
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self.poll_interval)
                except TimeoutError:
                    pass
        finally:
            if flying:
                await asyncio.wait(flying)
            await self._flush()
        return self.processed

    def _busy(self) -> bool:
        """Rows in flight, or due within ``drain_horizon`` (rows our own rate pacing put back briefly)."""
        soon = self.clock() + dt.timedelta(seconds=self.drain_horizon)
        with Session(self.ctx.engine) as session:
            due = exists().where(Delivery.state == "pending", Delivery.due_at <= soon)
            flying = exists().where(Delivery.state == "sending")
            return bool(session.scalar(select(due | flying)))

    async def _handle(self, job: Claimed) -> tuple[int, dict[str, object]]:
        """Send one row; returns the values to write (the batch is written in one transaction)."""
        channel = self.channels.get(job.channel)
        values: dict[str, object]
        try:
            if channel is None:
                raise Permanent(f"未知渠道：{job.channel}")
            sent = await channel.send(job, self.ctx)
        except Retry as retry:
            attempts = job.attempts if retry.count else job.attempts - 1
            if retry.count and attempts >= self.strategy.max_attempts:
                values = {"state": "failed", "error": f"重试 {attempts} 次仍失败：{retry.reason}"}
            else:
                due = self.strategy.next_due(self.clock(), attempts, retry.after)
                values = {"state": "pending", "due_at": due, "attempts": attempts, "error": retry.reason}
        except Permanent as failure:
            values = {"state": "failed", "error": failure.reason}
        except Uncertain as unsure:
            values = {"state": "uncertain", "error": unsure.reason}
        except Exception as exc:  # a bug or an unexpected platform answer: retried, and logged for staff
            log.exception("delivery %s failed unexpectedly", job.id)
            due = self.strategy.next_due(self.clock(), job.attempts)
            values = {"state": "pending", "due_at": due, "error": f"{type(exc).__name__}: {exc}"}
            if job.attempts >= self.strategy.max_attempts:
                values = {"state": "failed", "error": f"重试 {job.attempts} 次仍失败：{type(exc).__name__}: {exc}"}
        else:
            values = {"state": "sent", "sent_at": self.clock(), "error": "", "external_id": sent.external_id}
            if sent.note:  # keep a person's note (resolve) unless the channel has news
                values["note"] = sent.note
        return job.id, values
