"""One message's life: claimed once, answered within the budget or later, its reply kept for retries.

:meth:`Conversation.respond` is what the endpoint calls with a message it has opened:

1. **Claim** the message (:class:`~bot.claims.ClaimStore`, through the :class:`~bot.writer.Writer`),
   so it is answered once however often WeChat retries it and in whichever process. A retry of a
   message this process is still answering never reaches the database: it waits in memory for the
   answer. On SQLite this is the only bot process, so when the writer cannot take the claim at
   once (an import holds the write lock) the claim is decided in memory and written when the lock
   frees: the villager is answered meanwhile. On PostgreSQL a claim that waits longer than the
   budget ends in an apology (:class:`ClaimTimeout`) while WeChat still waits.
2. **Answer** through the dialogue, within the reply budget.
3. **Reply** passively when the answer came in time; otherwise ``success`` now and the answer later
   as customer-service messages (**late delivery**), as WeChat allows.
4. **Keep** the reply: retries waiting here get it at once; the row joins the writer's next pass
   (with the claims of new messages), when other processes' polling retries see it.

A process that dies between claiming and answering leaves a ``processing`` row: WeChat's remaining
retries of that message are answered ``success`` (nothing is sent twice).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import replies
from bot.claims import ClaimStore, StoredReply
from bot.dialogue import Answer, Dialogue
from bot.models import STATUS_DONE, STATUS_PROCESSING, VIA_CUSTOMER_SERVICE, VIA_FAILED, VIA_NONE, VIA_PASSIVE
from bot.writer import Writer
from core.db import utcnow
from core.errors import DatabaseError
from wechat.messages import InboundMessage

log = logging.getLogger(__name__)
T = TypeVar("T")

LATE_ANSWER_LIMIT = 60.0
"""Seconds a late answer may still take before it is given up."""
FOLLOW_UP_DELAY = 0.5
"""Seconds between a passive reply and the customer-service messages that continue it."""
MAX_CS_PARTS = 3
"""At most this many customer-service messages for one answer (WeChat allows 5 in 48 h)."""
CLAIM_WAIT = 0.25
"""SQLite: seconds a claim waits for the writer before it is decided in memory. (PostgreSQL: what is
left of the budget, at least a second; then the apology.)"""

POLL_INTERVAL = 0.05
"""Seconds between reads of a message another process is answering."""

SendText = Callable[[str, str], Awaitable[None]]
"""``send(openid, text)``: a customer-service text message (``WeChatClient.send_custom_text``)."""


class ClaimTimeout(DatabaseError):
    """The claim waited longer than the reply budget (a stalled or unreachable database)."""

    def __init__(self) -> None:
        super().__init__("数据库暂时无法写入")


@dataclass
class Stats:
    """Counters shown by ``/healthz``."""

    received: int = 0
    replied: int = 0
    late_answers: int = 0
    cs_sent: int = 0
    cs_failed: int = 0
    retries: int = 0
    rejected: int = 0
    malformed: int = 0
    errors: int = 0
    claims_in_memory: int = 0
    last_cs_error: str = ""


class Outage:
    """Logs a database outage as two WARNING lines, when it starts and when it ends (with how many of
    ``what`` failed meanwhile), instead of a traceback per failure."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.failures = 0

    def failed(self, exc: BaseException) -> None:
        if self.failures == 0:
            log.warning("database unreachable (%s); %s fail until it is back", type(exc).__name__, self.what)
        self.failures += 1

    def ok(self) -> None:
        if self.failures:
            log.warning("database reachable again; %d %s failed meanwhile", self.failures, self.what)
            self.failures = 0


def _is_outage(exc: BaseException) -> bool:
    return isinstance(exc, OSError | DBAPIError | ClaimTimeout) and not isinstance(exc, IntegrityError)


def describe(msg: InboundMessage) -> str:
    """A message for logs, without the villager's full openid or what they wrote."""
    if msg.msg_id is not None:
        return f"message {msg.msg_id} ({msg.msg_type})"
    return f"event {msg.event[:32]!r} from {msg.from_user[:6]}…"


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # (read, so an outcome nobody waits for any more is not reported as lost)


class Conversation:
    """Steps 1–4 for every message; collaborators come in through the constructor."""

    def __init__(
        self,
        *,
        writer: Writer,
        engine: AsyncEngine,
        dialogue: Dialogue,
        send_text: SendText,
        sender_key: Callable[[str], str] = lambda openid: openid,
        budget: float = 4.0,
    ) -> None:
        self.writer = writer
        self.engine = engine
        self.dialogue = dialogue
        self.send_text = send_text
        self.sender_key = sender_key
        self.budget = budget
        self.claims = ClaimStore(engine.dialect.name)
        self.claim_in_memory = engine.dialect.name == "sqlite"
        self.stats = Stats()
        self.outage = Outage("requests")
        self._answering: dict[str, asyncio.Future[StoredReply]] = {}  # key → its answer, for local retries
        self._unwritten: dict[str, StoredReply] = {}  # answered, row not written yet
        self.tasks: set[asyncio.Task[Any]] = set()  # late answers and follow-ups, awaited at shutdown

    # -- the life of one message ---------------------------------------------------------------

    async def respond(self, msg: InboundMessage, started: float) -> str | None:
        """The passive reply to ``msg`` (``None``: answer ``success``); ``started`` is the loop time
        the request arrived. Never raises."""
        key = msg.dedupe_key
        try:
            won = await self._claim(msg, started)
        except Exception as exc:
            self.stats.errors += 1
            if _is_outage(exc):
                self.outage.failed(exc)
            else:
                log.warning("could not record %s (%s); apologising", describe(msg), type(exc).__name__)
            return replies.error_reply(self.dialogue.service_phone)
        if not won:
            self.stats.retries += 1
            stored = await self.wait_for(key, self._remaining(started))
            return stored.reply if stored is not None and stored.via == VIA_PASSIVE and stored.reply else None
        task = self._spawn(self._answer(msg))
        try:
            async with asyncio.timeout(self._remaining(started)):
                answer = await asyncio.shield(task)
        except TimeoutError:
            self.stats.late_answers += 1
            log.info("answer to %s is late: success now, the answer as a customer-service message", describe(msg))
            self._spawn(self._deliver_late(msg, task))
            return None
        if answer.text is None:
            self._finish(key, None, VIA_NONE)
            return None
        self._finish(key, answer.text, VIA_PASSIVE)
        if answer.more:
            self._spawn(self._send_parts(msg, answer.more, key=None, delay=FOLLOW_UP_DELAY))
        self.stats.replied += 1
        return answer.text

    def _spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def close(self, timeout: float = 5.0) -> None:
        """At shutdown: late answers and follow-ups get ``timeout`` seconds to finish, then are cancelled."""
        if self.tasks:
            _, still = await asyncio.wait(set(self.tasks), timeout=timeout)
            for task in still:
                task.cancel()
            await asyncio.gather(*still, return_exceptions=True)

    def _remaining(self, started: float) -> float:
        return max(0.0, self.budget - (asyncio.get_running_loop().time() - started))

    async def _claim(self, msg: InboundMessage, started: float) -> bool:
        """Step 1: True when this request answers ``msg``."""
        key = msg.dedupe_key
        if key in self._answering or key in self._unwritten:  # this process has it (in progress or just done)
            return False
        answer: asyncio.Future[StoredReply] = asyncio.get_running_loop().create_future()
        self._answering[key] = answer  # local retries arriving meanwhile wait on it
        claim = (key, self.sender_key(msg.from_user), msg.msg_type, utcnow())
        claimed = self.writer.submit_batch(self.claims.claim_many, claim)
        claimed.add_done_callback(_retrieve)
        won = False
        try:
            wait = CLAIM_WAIT if self.claim_in_memory else max(self._remaining(started), 1.0)
            done, _ = await asyncio.wait([claimed], timeout=wait)
            if done:
                won = claimed.result()
            elif self.claim_in_memory:
                self.stats.claims_in_memory += 1  # the row is written when the writer gets to it
                won = True
            else:
                raise ClaimTimeout()
        finally:
            if not won:
                self._answering.pop(key, None)
                answer.cancel()
        return won

    async def _answer(self, msg: InboundMessage) -> Answer:
        """Step 2: the dialogue's answer; an error becomes an apology, not an exception."""
        try:
            answer = await self.dialogue.reply_to(msg)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.stats.errors += 1
            if _is_outage(exc):
                self.outage.failed(exc)
            else:
                log.exception("answering %s failed", describe(msg))
            return Answer(replies.error_reply(self.dialogue.service_phone))
        self.outage.ok()
        return answer

    async def _deliver_late(self, msg: InboundMessage, task: asyncio.Task[Answer]) -> None:
        """Step 3's other branch: wait for an answer that missed the budget and send it as customer service."""
        key = msg.dedupe_key
        try:
            answer = await asyncio.wait_for(task, LATE_ANSWER_LIMIT)
        except TimeoutError:
            log.warning("answer to %s took more than %.0f s; given up", describe(msg), LATE_ANSWER_LIMIT)
            self._finish(key, None, VIA_FAILED, "timeout")
            return
        except asyncio.CancelledError:
            self._wake(key, StoredReply(STATUS_PROCESSING, None, ""))
            raise
        if answer.text is None:
            self._finish(key, None, VIA_NONE)
            return
        self._finish(key, answer.text, VIA_CUSTOMER_SERVICE)
        await self._send_parts(msg, [answer.text, *answer.more], key=key)

    async def _send_parts(self, msg: InboundMessage, parts: list[str], *, key: str | None, delay: float = 0.0) -> None:
        """Customer-service messages; a platform error (quota, 48-hour window …) is recorded, not retried."""
        if delay:
            await asyncio.sleep(delay)  # let the passive reply reach the villager first
        for part in parts[:MAX_CS_PARTS]:
            try:
                await self.send_text(msg.from_user, part)
            except Exception as exc:
                self.stats.cs_failed += 1
                code = getattr(exc, "errcode", None)
                self.stats.last_cs_error = f"{type(exc).__name__} errcode={code}"
                log.warning("customer-service message for %s failed: %s", describe(msg), self.stats.last_cs_error)
                if key:
                    await self._update_via(key, VIA_FAILED, f"{type(exc).__name__} {code}")
                return
            self.stats.cs_sent += 1

    # -- step 4: keeping the reply ---------------------------------------------------------

    def _finish(self, key: str, reply: str | None, via: str, error: str = "") -> None:
        """Local retries get the reply at once; the row joins the writer's next pass."""
        stored = self._unwritten[key] = StoredReply(STATUS_DONE, reply, via)
        finish = functools.partial(self.claims.finish, key=key, reply=reply, via=via, error=error, now=utcnow())
        written = self.writer.submit(finish)  # (after the pass's claims)
        written.add_done_callback(functools.partial(self._written, key, stored))
        self._wake(key, stored)

    def _written(self, key: str, stored: StoredReply, written: asyncio.Future[list[None]]) -> None:
        if not written.cancelled() and written.exception() is not None:
            log.warning("could not store the reply of %s (%s)", key, type(written.exception()).__name__)
        if self._unwritten.get(key) is stored:
            del self._unwritten[key]

    def _wake(self, key: str, stored: StoredReply) -> None:
        """Local retries waiting for ``key`` get ``stored`` (``processing``: never answered, at shutdown)."""
        answer = self._answering.pop(key, None)
        if answer is not None and not answer.done():
            answer.set_result(stored)

    async def flush(self) -> int:
        """Wait until the replies kept so far are written (or failed); how many there were."""
        count = len(self._unwritten)
        while self._unwritten:
            await asyncio.sleep(0.005)
        return count

    async def _update_via(self, key: str, via: str, error: str) -> None:
        try:  # (after the row's finish: the writer keeps the order of plain writes)
            await self.writer.submit(
                functools.partial(self.claims.update_via, key=key, via=via, error=error, now=utcnow())
            )
        except Exception:
            log.exception("could not record the delivery of %s", key)

    async def wait_for(self, key: str, timeout: float) -> StoredReply | None:
        """The stored answer of ``key`` once it is done, or ``None`` when ``timeout`` runs out first."""
        answer = self._answering.get(key)
        if answer is not None:
            await asyncio.wait([answer], timeout=timeout)
            if not answer.done():
                return None
            if not answer.cancelled():  # (cancelled: this process's claim lost to another's; poll the database)
                return answer.result() if answer.result().done else None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        while True:
            stored = await self.lookup(key)
            if stored is not None and stored.done:
                return stored
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            await asyncio.sleep(min(POLL_INTERVAL, remaining))

    async def lookup(self, key: str) -> StoredReply | None:
        """The reply kept for ``key``: this process's, else the database row (any process's)."""
        if key in self._unwritten:
            return self._unwritten[key]
        async with self.engine.connect() as conn:
            return await conn.run_sync(self.claims.lookup, key)

    async def prune(self, before: dt.datetime) -> int:
        """Delete inbound-message rows created before ``before``."""
        return await self.writer.submit(functools.partial(self.claims.prune, before=before))
