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
_REQUIRED = object()
T = TypeVar("T")


class DriverStatement:
    """A Core statement compiled once to the driver's own SQL and run on the DBAPI cursor.

    For the few statements on every request's path (the dedupe claim, the answer write-behind, the
    question log): SQLAlchemy's per-execution work (execution context, result wrapping, parameter
    processing) costs several times what SQLite spends on the statement, and it holds the GIL the
    event loop needs. The bind processors (e.g. UTC datetimes) are applied as SQLAlchemy would.
    Run it on ``connection.connection`` of a :class:`~sqlalchemy.Connection` inside its transaction.
    """

    def __init__(self, engine: Engine, stmt: Any) -> None:
        dialect = engine.dialect
        compiled = stmt.compile(dialect=dialect)
        self.sql = str(compiled)
        self.positional = bool(compiled.positional)
        binds = compiled.binds
        if self.positional:
            names = list(compiled.positiontup or ())
        else:
            names = [n for n in binds if f"%({n})s" in self.sql or f":{n}" in self.sql]
        self._names = names
        self._static = {n: binds[n].value for n in names if not binds[n].required}
        self._processors = {n: binds[n].type.bind_processor(dialect) for n in names}
        # (name, static value or a marker, processor or None), in the statement's order
        self._plan = tuple((n, self._static.get(n, _REQUIRED), self._processors[n]) for n in names)

    def params(self, row: dict[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        values = []
        for name, static, proc in self._plan:
            value = row.get(name, static)
            if value is _REQUIRED:
                raise KeyError(name)
            values.append(proc(value) if proc is not None else value)
        return tuple(values) if self.positional else dict(zip(self._names, values, strict=True))

    def execute(self, dbapi_connection: Any, row: dict[str, Any]) -> Any:
        """Run it once; the first row of the result (``None`` when there is none or no result)."""
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(self.sql, self.params(row))
            return cursor.fetchone() if cursor.description is not None else None
        finally:
            cursor.close()

    def execute_many(self, dbapi_connection: Any, rows: list[dict[str, Any]]) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.executemany(self.sql, [self.params(r) for r in rows])
        finally:
            cursor.close()


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
