"""Deduplicating WeChat's retries in the database, so it holds across restarts and processes.

WeChat retries a message three times when it got no reply within 5 s. Each message is *claimed*
by inserting a row with its dedupe key (MsgId, or FromUserName + CreateTime for events); the
unique key makes every other insert fail, on SQLite and PostgreSQL alike, so exactly one request
— in any process — computes the answer. The others wait for it:

- in the same process through an in-memory future (no polling);
- across processes by polling the row until it is ``done`` or the budget runs out.

A retry gets the stored reply back when it went out as a passive reply (WeChat only shows one),
and ``success`` when it went out through the customer-service API or was nothing at all.

The claim is the one database round trip on a reply's critical path; it also reads what the
answer needs (e.g. the sender's village, ``also_return``) in the same statement. Claims are
grouped. On SQLite the claims of the requests read in one turn of the event loop go together in
one transaction on the event loop itself, right after that turn, when the write lock is free
(:class:`~bot.db.InlineSqlite`: tens of microseconds, no thread hop; a commit per claim would
cost more than the hop it saves). On PostgreSQL (on the event loop's own connection, see
:mod:`bot.db`), or when a SQLite lock is held elsewhere (through the database thread), one batch
is in the database at a time: the claims arriving meanwhile queue up and go together in the
next transaction, one commit for all of them (on PostgreSQL in one pipeline: one round trip for
their statements). If anything
in a batch fails, each of its claims is retried in a transaction of its own, so one bad claim
never fails the others. Storing the answer is written behind: local waiters get it at once, the
row is updated in batches every ``write_interval`` (10 ms), which is when other processes'
polling retries see it.

A process that dies between claiming and answering leaves a ``processing`` row: WeChat's
remaining retries of that message are answered ``success`` (nothing is sent twice).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Engine, Insert, bindparam, delete, select, update

from bot.db import Busy, DriverStatement, PartialWrite, SyncDb
from bot.models import STATUS_DONE, STATUS_PROCESSING, InboundMessage
from core.db import utcnow

log = logging.getLogger(__name__)
Outcome = tuple[bool, Any] | BaseException
"""A claim's outcome: ``(won, what the claim also returned)``, or what went wrong."""
Claim = tuple[dict[str, Any], asyncio.Future[Any], float]
"""A queued claim: its row, the future its request waits on, and when it was queued (loop time)."""
EXPIRY_CHECK = 0.25
"""Seconds between checks for claims that waited longer than ``claim_timeout``."""


class ClaimTimeout(TimeoutError):
    """The claim waited longer than ``claim_timeout`` (a stalled or locked database)."""


_TABLE = InboundMessage.__table__
_KEY_CHARS = 160
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
_ROW_COLUMNS = ("dedupe_key", "openid", "msg_type", "status", "reply", "via", "error", "created_at", "updated_at")
_LOOKUP = select(_TABLE.c.status, _TABLE.c.reply, _TABLE.c.via).where(_TABLE.c.dedupe_key == bindparam("key"))


def _insert_ignoring_duplicates(engine: Engine) -> Insert:
    """``INSERT … ON CONFLICT DO NOTHING RETURNING id`` (SQLite ≥ 3.35, PostgreSQL): a returned row says
    this insert won (``rowcount`` is not reliable here: psycopg reports -1)."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(_TABLE).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(_TABLE.c.id)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(_TABLE).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(_TABLE.c.id)


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

    def __init__(
        self,
        db: SyncDb,
        *,
        also_return: ColumnElement[Any] | None = None,
        claim_timeout: float | None = None,
        poll_interval: float = 0.05,
        write_interval: float = 0.01,
    ) -> None:
        """``also_return``: an SQL expression the claim returns when it is won, read in the same
        statement (e.g. the sender's village: a scalar subquery on the claimed row's columns).
        ``claim_timeout``: while :meth:`run` runs, a claim still waiting after this many seconds fails
        with :class:`ClaimTimeout` (its request can still apologise within WeChat's 5 seconds)."""
        self.db = db
        self.claim_timeout = claim_timeout
        self.claims_expired = 0
        self.poll_interval = poll_interval
        self.write_interval = write_interval
        self.also_return = also_return
        claim = _insert_ignoring_duplicates(db.engine)
        if also_return is not None:
            claim = claim.returning(also_return)
        self._claim_driver = DriverStatement(
            db.engine, claim.values({c: bindparam(c, type_=_TABLE.c[c].type) for c in _ROW_COLUMNS})
        )
        self._finish_driver = DriverStatement(db.engine, _FINISH)
        self._local: dict[str, asyncio.Future[StoredReply]] = {}
        self._pending: dict[str, dict[str, Any]] = {}
        self._flush_lock = asyncio.Lock()
        self._claims: list[Claim] = []
        self._claims_scheduled = False
        self._sent: list[list[Claim]] = []  # the batch in the database through a task (one at a time)
        self._claim_tasks: set[asyncio.Task[None]] = set()
        self.claim_batches = 0

    # -- database work ----------------------------------------------------------------------

    def _outcomes(self, returned: list[Any]) -> list[Outcome]:
        """``(won, what the claim also returned)`` from the rows the claims returned (``None``: lost)."""
        extra = self.also_return is not None
        return [(False, None) if r is None else (True, r[1] if extra else None) for r in returned]

    async def _claim_rows(self, rows: list[dict[str, Any]]) -> list[Outcome]:
        """Claim several messages in one transaction; on any failure, each in a transaction of its own."""
        if len(rows) > 1:
            try:
                return self._outcomes(await self.db.execute(self._claim_driver, rows, each=True))
            except Exception:
                log.debug("a batch of %d claims failed; claiming them one by one", len(rows), exc_info=True)
        single: list[Outcome] = []
        for row in rows:
            try:
                single += self._outcomes(await self.db.execute(self._claim_driver, [row], each=True))
            except Exception as exc:
                single.append(exc)
        return single

    def _execute(self, stmt: Any, params: dict[str, Any]) -> int:
        with self.db.engine.begin() as conn:
            return int(conn.execute(stmt, params).rowcount or 0)

    def _lookup(self, key: str) -> StoredReply | None:
        with self.db.engine.connect() as conn:
            row = conn.execute(_LOOKUP, {"key": key}).first()
        return None if row is None else StoredReply(row[0], row[1], row[2])

    # -- async API ------------------------------------------------------------------------

    async def claim(self, key: str, *, openid: str = "", msg_type: str = "") -> bool:
        """Insert the row for ``key``; True when this call won (nobody claimed it before)."""
        won, _ = await self.claim_and_read(key, openid=openid, msg_type=msg_type)
        return won

    async def claim_and_read(self, key: str, *, openid: str = "", msg_type: str = "") -> tuple[bool, Any]:
        """Claim ``key``: ``(won, the value of also_return)`` (``None`` when lost or not configured);
        what answering the message needs comes in the claim's own statement."""
        now = utcnow()
        row = {
            "dedupe_key": key[:_KEY_CHARS],
            "openid": openid[:64],
            "msg_type": msg_type[:16],
            "status": STATUS_PROCESSING,
            "reply": None,
            "via": "",
            "error": "",
            "created_at": now,
            "updated_at": now,
        }
        if key in self._local or key in self._pending:  # this process has it (in progress or just done)
            return False, None
        loop = asyncio.get_running_loop()
        future: asyncio.Future[StoredReply] = loop.create_future()
        self._local[key] = future  # local retries arriving meanwhile wait on it
        claimed: asyncio.Future[tuple[bool, Any]] = loop.create_future()
        self._claims.append((row, claimed, loop.time()))
        self._dispatch_claims()
        try:
            won, extra = await claimed
        except BaseException:
            self._local.pop(key, None)
            future.cancel()
            raise
        if not won:
            self._local.pop(key, None)
            future.cancel()
        return won, extra

    def _dispatch_claims(self) -> None:
        """Send the queued claims to the database as one batch. On SQLite: synchronously, at the end of
        this turn of the loop (the claims of every request read meanwhile go together). Otherwise
        (PostgreSQL, or SQLite's write lock held elsewhere) as a task (:meth:`_run_claims`), one batch
        at a time: the claims arriving while one is in the database go in the next."""
        if not self._claims or self._sent:  # one batch at a time: the next gathers what came meanwhile
            return
        if self.db.inline is None:
            self._send_claims()
        elif not self._claims_scheduled:
            self._claims_scheduled = True
            asyncio.get_running_loop().call_soon(self._claim_here)

    def _claim_here(self) -> None:
        self._claims_scheduled = False
        if not self._claims or self._sent:
            return  # (the batch in flight sends them when it is done)
        batch = self._claims
        try:
            outcomes = self._outcomes(self.db.execute_here(self._claim_driver, [c[0] for c in batch], each=True))
        except Busy:  # SQLite's write lock is held elsewhere: the task waits for it in a thread
            self._send_claims()
            return
        except Exception:  # one claim failed: the task claims them one by one and reports it
            log.debug("a batch of %d claims failed on the event loop", len(batch), exc_info=True)
            self._send_claims()
            return
        self._claims = []
        self.claim_batches += 1
        self._settle(batch, outcomes)

    def _send_claims(self) -> None:
        batch, self._claims = self._claims, []
        self._sent.append(batch)
        task = asyncio.get_running_loop().create_task(self._run_claims(batch))
        self._claim_tasks.add(task)
        task.add_done_callback(self._claim_tasks.discard)

    async def _run_claims(self, batch: list[Claim]) -> None:
        try:
            try:
                outcomes: list[Outcome] | BaseException = await self._claim_rows([c[0] for c in batch])
            except BaseException as exc:  # the executor is shut down, or we are cancelled
                outcomes = exc
            self.claim_batches += 1
            self._settle(batch, outcomes)
            if isinstance(outcomes, asyncio.CancelledError):
                raise outcomes
        finally:
            self._sent.remove(batch)
            self._dispatch_claims()

    @staticmethod
    def _settle(batch: list[Claim], outcomes: list[Outcome] | BaseException) -> None:
        """Hand each claim of ``batch`` its outcome (one exception for all when ``outcomes`` is one)."""
        for n, (_, claimed, _) in enumerate(batch):
            if claimed.done():  # its request was cancelled meanwhile
                continue
            outcome = outcomes if isinstance(outcomes, BaseException) else outcomes[n]
            if isinstance(outcome, asyncio.CancelledError):
                claimed.cancel()
            elif isinstance(outcome, BaseException):
                claimed.set_exception(outcome)
            else:
                claimed.set_result(outcome)

    def finish(self, key: str, reply: str | None, via: str, *, error: str = "") -> None:
        """Record the answer of a claimed message: local retries get it at once, the database row is
        written behind (within ``write_interval``, batched with other answers) for other processes."""
        self._pending[key] = {
            "key": key[:_KEY_CHARS],
            "reply": reply,
            "via": via,
            "error": error[:200],
            "now": utcnow(),
        }
        future = self._local.pop(key, None)
        if future is not None and not future.done():
            future.set_result(StoredReply(STATUS_DONE, reply, via))

    async def flush(self) -> int:
        """Write the answers recorded by :meth:`finish`; on failure they stay for the next flush."""
        async with self._flush_lock:
            if not self._pending:
                return 0
            batch = list(self._pending.items())
            try:
                await self.db.write_rows(self._finish_driver, [row for _, row in batch])
                written = len(batch)
            except PartialWrite as exc:
                written = exc.written
                log.warning("could not store %d answers; will retry", len(batch) - written, exc_info=True)
            for key, row in batch[:written]:
                if self._pending.get(key) is row:
                    del self._pending[key]
            return written

    def expire_stalled(self) -> int:
        """Fail the claims (queued, or in the database through a task) that have waited longer than
        ``claim_timeout`` with :class:`ClaimTimeout`; how many. A claim that later goes through leaves
        a ``processing`` row, as one whose process died: retries of its message get ``success``."""
        if self.claim_timeout is None:
            return 0
        limit = asyncio.get_running_loop().time() - self.claim_timeout
        expired = 0
        for batch in (self._claims, *self._sent):
            for _, claimed, queued_at in batch:
                if queued_at <= limit and not claimed.done():
                    claimed.set_exception(ClaimTimeout())
                    expired += 1
        self.claims_expired += expired
        return expired

    async def run(self) -> None:
        """Flush forever, and fail stalled claims (:meth:`expire_stalled`) in a task of their own, so a
        flush stuck in the database does not hold that up (cancel to stop; :meth:`flush` once more after
        cancelling)."""
        expiry = asyncio.get_running_loop().create_task(self._expire_forever())
        try:
            while True:
                await asyncio.sleep(self.write_interval)
                if self._pending:
                    await self.flush()
        finally:
            expiry.cancel()

    async def _expire_forever(self) -> None:
        while True:
            await asyncio.sleep(EXPIRY_CHECK)
            if self._claims or self._sent:
                self.expire_stalled()

    async def update_via(self, key: str, via: str, *, error: str = "") -> None:
        """Record how an answer finally went out (customer service, or the send failed)."""
        await self.flush()
        params = {"key": key[:_KEY_CHARS], "via": via, "error": error[:200], "now": utcnow()}
        await self.db.call(self._execute, _UPDATE_VIA, params)

    def abandon(self, key: str) -> None:
        """Wake local waiters of a claim that will never be finished (shutdown)."""
        future = self._local.pop(key, None)
        if future is not None and not future.done():
            future.set_result(StoredReply(STATUS_PROCESSING, None, ""))

    async def lookup(self, key: str) -> StoredReply | None:
        pending = self._pending.get(key)
        if pending is not None:
            return StoredReply(STATUS_DONE, pending["reply"], pending["via"])
        return await self.db.call(self._lookup, key[:_KEY_CHARS])

    async def wait_for(self, key: str, timeout: float) -> StoredReply | None:
        """The stored answer of ``key`` once it is done, or ``None`` when ``timeout`` runs out first."""
        future = self._local.get(key)
        if future is not None:
            try:
                result = await asyncio.wait_for(asyncio.shield(future), timeout)
            except TimeoutError:
                return None
            except asyncio.CancelledError:
                if not future.cancelled():
                    raise  # we were cancelled ourselves
                # this process's claim lost to another process: poll the database below
            else:
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
        return await self.db.call(
            self._execute, delete(_TABLE).where(_TABLE.c.created_at < bindparam("before")), {"before": before}
        )
