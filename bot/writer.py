"""The bot's one write route: a thread that owns one connection and commits queued writes per pass.

As datasette does it. A write is a function of a SQLAlchemy :class:`~sqlalchemy.Connection`
(plain SQL, or an ORM :class:`~sqlalchemy.orm.Session` bound to it). :meth:`Writer.write` queues
one and waits for its result. The thread:

1. waits for the first queued writes (those of one turn of the event loop arrive together), then
   takes every write queued meanwhile (a *pass*);
2. runs them in one transaction and commits once: under load one commit serves many requests;
3. when that fails, runs each of them in a transaction of its own, so one bad write fails alone;
4. when the database is locked by another connection (SQLite: an import holds the write lock past
   ``busy_timeout``) or unreachable, keeps the whole pass and tries again after a pause: nothing
   queued is lost, and :attr:`Writer.backlog` says how much waits;
5. hands each result (or exception) back to the event loop that asked.

The event loop never waits for the database: a disk stall or a held lock only makes writes wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)
T = TypeVar("T")
Write = Callable[[Connection], Any]
Batch = Callable[[Connection, list[Any]], list[Any]]
"""``batch(connection, items)`` → one result per item: many writes of one kind in one statement."""
RETRY_PAUSE = 0.05
"""Seconds between tries of a pass the database refused as a whole (locked, unreachable)."""


@dataclass
class _Job:
    fn: Write | None
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    batch: Batch | None = None
    item: Any = None

    def run_alone(self, conn: Connection) -> Any:
        return self.batch(conn, [self.item])[0] if self.batch is not None else self.fn(conn)  # type: ignore[misc]


def _unavailable(exc: BaseException) -> bool:
    """The database refused the whole pass (a lock held elsewhere, a lost connection): try it again later.
    (Raised by SQLAlchemy, or by the driver itself for the plain-SQL writes.)"""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    orig = getattr(exc, "orig", None) or exc
    if type(orig).__name__ not in ("OperationalError", "InterfaceError"):
        return False
    text = str(orig).lower()
    return any(t in text for t in ("database is locked", "database is busy", "connection", "server closed", "terminat"))


class Writer:
    """One connection and one thread for every write of this process; start with :meth:`start`."""

    def __init__(self, engine: Engine, *, name: str = "cunwu-writer") -> None:
        self.engine = engine
        self.name = name
        self._queue: queue.SimpleQueue[list[_Job] | None] = queue.SimpleQueue()
        self._turn: list[_Job] = []  # submitted in this turn of the event loop
        self._thread: threading.Thread | None = None
        self._submitted = 0  # (written by the event loop's thread only)
        self._done = 0  # (written by the writer's thread only)
        self.passes = 0
        self.retries = 0
        self.stalled_since: float | None = None
        """``time.monotonic()`` when the database began refusing passes; ``None`` while it takes them."""

    @property
    def backlog(self) -> int:
        """Writes queued or in a pass, not yet committed."""
        return self._submitted - self._done

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    async def write(self, fn: Callable[[Connection], T]) -> T:
        """Queue ``fn(connection)`` and wait until its pass is committed: its result, or its exception."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self.submit(fn, future)
        return await future

    def submit(self, fn: Callable[[Connection], T], future: asyncio.Future[T]) -> None:
        """Queue ``fn`` with the future its result goes to (the caller may stop waiting; it still runs).
        The writes submitted in one turn of the event loop reach the thread together (one wake-up)."""
        self._submitted += 1
        self._turn.append(_Job(fn, future.get_loop(), future))
        if len(self._turn) == 1:
            future.get_loop().call_soon(self._hand_over)

    def submit_batch(self, batch: Batch, item: Any, future: asyncio.Future[Any]) -> None:
        """Queue ``item`` for ``batch``: the items of one pass go to it in one call, before the pass's
        other writes (e.g. the dedupe claims: one multi-row INSERT); its result for ``item`` goes to ``future``."""
        self._submitted += 1
        self._turn.append(_Job(None, future.get_loop(), future, batch, item))
        if len(self._turn) == 1:
            future.get_loop().call_soon(self._hand_over)

    def _hand_over(self) -> None:
        turn, self._turn = self._turn, []
        self._queue.put(turn)

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    # -- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        conn: Connection | None = None
        jobs: list[_Job] = []
        stopping = False
        while True:
            if not jobs:
                first = self._queue.get()
                if first is None:
                    break
                jobs.extend(first)
            while True:  # everything queued meanwhile joins this pass
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                else:
                    jobs.extend(more)
            try:
                if conn is None:
                    conn = self.engine.connect()
                self._pass(conn, jobs)
            except Exception as exc:
                if conn is not None and (conn.invalidated or _unavailable(exc)):
                    with contextlib.suppress(Exception):
                        conn.invalidate()  # a new connection for the next try
                        conn.close()
                    conn = None
                if _unavailable(exc) or conn is None:
                    self._stalled(exc)
                    if stopping and self.stalled_since and time.monotonic() - self.stalled_since > 1:
                        self._settle(jobs, exc)  # shutting down: give up rather than hang
                        break
                    time.sleep(RETRY_PAUSE)
                    continue  # the same jobs (and whatever came meanwhile) go in the next pass
                self._settle(jobs, exc)
            else:
                if self.stalled_since is not None:
                    log.warning(
                        "database writes resumed after %.1f s (%d writes were waiting)",
                        time.monotonic() - self.stalled_since,
                        len(jobs),
                    )
                    self.stalled_since = None
            jobs = []
            if stopping:
                break
        if conn is not None:
            conn.close()

    def _stalled(self, exc: BaseException) -> None:
        self.retries += 1
        if self.stalled_since is None:
            self.stalled_since = time.monotonic()
            log.warning(
                "database refuses writes (%s); %d writes wait and will be retried", type(exc).__name__, self.backlog
            )

    def _pass(self, conn: Connection, jobs: list[_Job]) -> None:
        """Steps 2 and 3: all in one transaction, else each alone."""
        results: list[tuple[Any, BaseException | None]] = []
        try:
            with conn.begin():
                results = _run_all(conn, jobs)
        except Exception as exc:
            if _unavailable(exc) or len(jobs) == 1:
                if _unavailable(exc):
                    raise
                results = [(None, exc)]
            else:
                results = []
                for job in jobs:
                    try:
                        with conn.begin():
                            results.append((job.run_alone(conn), None))
                    except Exception as one:
                        if _unavailable(one):
                            raise
                        results.append((None, one))
        self.passes += 1
        self._hand_back(jobs, results)

    def _settle(self, jobs: list[_Job], exc: BaseException) -> None:
        self._hand_back(jobs, [(None, exc)] * len(jobs))

    def _hand_back(self, jobs: list[_Job], results: list[tuple[Any, BaseException | None]]) -> None:
        """Step 5: one wake-up of each event loop per pass, whatever the number of its writes."""
        self._done += len(jobs)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, Any, BaseException | None]]] = {}
        for job, (value, error) in zip(jobs, results, strict=True):
            by_loop.setdefault(job.loop, []).append((job, value, error))
        for loop, settled in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle_all, settled)
            except RuntimeError:  # the loop is closed (shutdown)
                pass


def _run_all(conn: Connection, jobs: list[_Job]) -> list[tuple[Any, BaseException | None]]:
    """The batched writes first (one call per batch function), then the others in order."""
    results: list[tuple[Any, BaseException | None]] = [(None, None)] * len(jobs)
    groups: dict[Batch, list[int]] = {}
    for n, job in enumerate(jobs):
        if job.batch is not None:
            groups.setdefault(job.batch, []).append(n)
    for batch, numbers in groups.items():
        for n, value in zip(numbers, batch(conn, [jobs[n].item for n in numbers]), strict=True):
            results[n] = (value, None)
    for n, job in enumerate(jobs):
        if job.fn is not None:
            results[n] = (job.fn(conn), None)
    return results


def _settle_all(settled: list[tuple[_Job, Any, BaseException | None]]) -> None:
    for job, value, error in settled:
        if job.future.done():
            continue
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(value)
