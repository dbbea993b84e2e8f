"""The bot's database work: sync SQLAlchemy code run in worker threads, one hop per transaction.

Every request touches the database two or three times (dedupe claim, follower lookup, storing
the answer), so the bridge matters. Measured here (2 cores, one claim + follower lookup):

=====================================  ===========  ==============
                                        SQLite WAL   PostgreSQL 16
=====================================  ===========  ==============
ORM ``insert(Model).values`` (sync)        1.6 ms          —
Core, ``AsyncEngine`` (aiosqlite/psycopg)  1.5 ms        2.6 ms
Core, sync engine in a worker thread       0.3 ms        1.6 ms
=====================================  ===========  ==============

aiosqlite makes a thread hop per cursor call; here a whole transaction is one hop. SQLite gets a
single worker thread (it has one writer at a time anyway, and this way the process's own writes
never wait in SQLite's busy handler); PostgreSQL a small pool. Library code stays sync
(``Session``/``Connection``), as everywhere else in Cunwu.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.db import make_sessionmaker

P = ParamSpec("P")
T = TypeVar("T")


class SyncDb:
    """An engine, its session factory, and the threads that run work on them."""

    def __init__(self, engine: Engine, *, threads: int | None = None) -> None:
        self.engine = engine
        self.sessionmaker: sessionmaker[Session] = make_sessionmaker(engine)
        self.is_sqlite = engine.dialect.name == "sqlite"
        workers = threads if threads is not None else (1 if self.is_sqlite else 8)
        self.threads = workers
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cunwu-db")

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` in a database thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def session(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(session, *args)`` in one ORM transaction (committed on success) in a database thread."""

        def work() -> T:
            with self.sessionmaker.begin() as session:
                return fn(session, *args)

        return await self.call(work)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=False)
        self.engine.dispose()
