"""The bot's one write route: a thread that owns one connection and commits queued writes per pass.

As datasette does it. A write is a function of a SQLAlchemy :class:`~sqlalchemy.Connection`
(plain SQL, or an ORM :class:`~sqlalchemy.orm.Session` bound to it). :meth:`Writer.submit` queues
one and gives the future of its result. The thread:

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
    """A queued write (``fn``) or an item for a batch function; then its outcome."""

    future: asyncio.Future[Any]
    fn: Write | None = None
    batch: Batch | None = None
    item: Any = None
    result: Any = None
    error: BaseException | None = None


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

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._queue: queue.SimpleQueue[list[_Job] | None] = queue.SimpleQueue()
        self._turn: list[_Job] = []  # submitted in this turn of the event loop
        self._thread: threading.Thread | None = None
        self._submitted = 0  # (written by the event loop's thread only)
        self._done = 0  # (written by the writer's thread only)
        self.passes = 0
        self.stalled_since: float | None = None
        """``time.monotonic()`` when the database began refusing passes; ``None`` while it takes them."""

    @property
    def backlog(self) -> int:
        """Writes queued or in a pass, not yet committed."""
        return self._submitted - self._done

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="cunwu-writer", daemon=True)
            self._thread.start()

    def submit(self, fn: Callable[[Connection], T]) -> asyncio.Future[T]:
        """Queue ``fn(connection)``; the future of its result (or exception) once its pass is committed
        (the caller may stop waiting: it still runs)."""
        return self._add(_Job(asyncio.get_running_loop().create_future(), fn=fn))

    def submit_batch(self, batch: Batch, item: Any) -> asyncio.Future[Any]:
        """Queue ``item`` for ``batch``: the items of one pass go to it in one call, before the pass's
        other writes (e.g. the dedupe claims: one multi-row INSERT); the future of its result for ``item``."""
        return self._add(_Job(asyncio.get_running_loop().create_future(), batch=batch, item=item))

    def _add(self, job: _Job) -> asyncio.Future[Any]:
        """The writes queued in one turn of the event loop reach the thread together (one wake-up)."""
        self._submitted += 1
        self._turn.append(job)
        if len(self._turn) == 1:
            job.future.get_loop().call_soon(self._hand_over)
        return job.future

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
            turns = [] if jobs else [self._queue.get()]  # (a pass that failed is tried again first)
            while not self._queue.empty():  # everything queued meanwhile joins this pass
                turns.append(self._queue.get())
            stopping = stopping or None in turns
            jobs += [job for turn in turns if turn is not None for job in turn]
            if not jobs:
                break
            try:
                if conn is None:
                    conn = self.engine.connect()
                self._pass(conn, jobs)
            except Exception as exc:  # step 4: the database refused the whole pass
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.invalidate()  # a new connection for the next try
                        conn.close()
                    conn = None
                if self.stalled_since is None:
                    self.stalled_since = time.monotonic()
                    log.warning("database refuses writes (%s); %d writes wait", type(exc).__name__, self.backlog)
                if stopping and time.monotonic() - (self.stalled_since or 0) > 1:
                    self._hand_back(jobs, exc)  # shutting down: give up rather than hang
                    break
                time.sleep(RETRY_PAUSE)
                continue  # the same jobs (and whatever came meanwhile) go in the next pass
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

    def _pass(self, conn: Connection, jobs: list[_Job]) -> None:
        """Steps 2 and 3: all in one transaction, else each alone; a refusal of the whole pass is raised."""
        try:
            with conn.begin():
                _run_all(conn, jobs)
        except Exception as exc:
            if _unavailable(exc):
                raise
            for job in jobs:
                try:
                    with conn.begin():
                        _run_all(conn, [job])
                except Exception as one:
                    if _unavailable(one):
                        raise
                    job.error = one
        self.passes += 1
        self._hand_back(jobs)

    def _hand_back(self, jobs: list[_Job], error: BaseException | None = None) -> None:
        """Step 5: one wake-up of each event loop per pass, whatever the number of its writes."""
        self._done += len(jobs)
        by_loop: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        for job in jobs:
            job.error = job.error or error
            by_loop.setdefault(job.future.get_loop(), []).append(job)
        for loop, settled in by_loop.items():
            with contextlib.suppress(RuntimeError):  # (a loop closed at shutdown)
                loop.call_soon_threadsafe(_settle_all, settled)


def _run_all(conn: Connection, jobs: list[_Job]) -> None:
    """The batched writes first (one call per batch function), then the others in order."""
    groups: dict[Batch, list[_Job]] = {}
    for job in jobs:
        job.error = None  # (of an earlier try of this pass)
        if job.batch is not None:
            groups.setdefault(job.batch, []).append(job)
    for batch, batched in groups.items():
        for job, result in zip(batched, batch(conn, [job.item for job in batched]), strict=True):
            job.result = result
    for job in jobs:
        if job.fn is not None:
            job.result = job.fn(conn)


def _settle_all(jobs: list[_Job]) -> None:
    for job in jobs:
        if job.future.done():
            continue
        if job.error is not None:
            job.future.set_exception(job.error)
        else:
            job.future.set_result(job.result)
