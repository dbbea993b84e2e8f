"""The bot's database work: sync SQLAlchemy code in worker threads, and the few small write
transactions of every request on the event loop itself.

Library code stays sync (``Session``/``Connection``), as everywhere else in Cunwu, and runs in
worker threads (:meth:`SyncDb.call`, :meth:`SyncDb.session`), one hop per transaction: SQLite
gets a single thread (it has one writer at a time anyway), PostgreSQL a small pool. Measured
here before (2 cores, one claim + follower lookup):

=====================================  ===========  ==============
                                        SQLite WAL   PostgreSQL 16
=====================================  ===========  ==============
ORM ``insert(Model).values`` (sync)        1.6 ms          —
Core, ``AsyncEngine`` (aiosqlite/psycopg)  1.5 ms        2.6 ms
Core, sync engine in a worker thread       0.3 ms        1.6 ms
=====================================  ===========  ==============

A hop is not free, though: about 60 µs of CPU for the two threads, and the worker then waits for
the GIL the event loop holds (up to the 5 ms switch interval) while the request waits for it.
The statements on every request's path (the dedupe claims, the stored answers, the question log:
:class:`DriverStatement`, run by :meth:`SyncDb.execute`) therefore run on the event loop:

- SQLite: through :class:`InlineSqlite` whenever the write lock is free (tens of microseconds,
  no wait); when anything else holds it (another process, a ``cunwu`` import), it says so at
  once and the work goes to the database thread instead;
- PostgreSQL: on the loop's own psycopg ``AsyncConnection`` (:class:`LoopPostgres`); a broken
  connection sends that transaction to a thread and the next one reconnects.

Write-behinds go in transactions of at most :data:`ROWS_PER_WRITE` rows. ``bench/endpoint.py``
(Zipf mix): 0.46× → 0.53× of the bare handler's throughput on SQLite, 0.19× → 0.31× on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.db import make_sessionmaker

log = logging.getLogger(__name__)
P = ParamSpec("P")
CHECKPOINT_INTERVAL = 0.5
"""Seconds between WAL checkpoints while the event loop writes inline (SQLite's own default is
every 1,000 pages, about 4 MB; the endpoint at full load writes roughly that much in half a second)."""
ROWS_PER_WRITE = 200
"""Rows per write-behind transaction (the question log, stored answers): about a millisecond."""
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
        self._pipelined = dialect.driver == "psycopg" and compiled.effective_returning is not None

    def params(self, row: dict[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        values = []
        for name, static, proc in self._plan:
            value = row.get(name, static)
            if value is _REQUIRED:
                raise KeyError(name)
            values.append(proc(value) if proc is not None else value)
        return tuple(values) if self.positional else dict(zip(self._names, values, strict=True))

    def execute_each(self, dbapi_connection: Any, rows: Sequence[dict[str, Any]]) -> list[Any]:
        """Run it once per row; the first row each run returned (``None`` where none). On psycopg in one
        pipeline (one round trip for all of them), elsewhere one after the other."""
        cursor = dbapi_connection.cursor()
        try:
            if self._pipelined:
                cursor.executemany(self.sql, [self.params(r) for r in rows], returning=True)
                out = [cursor.fetchone()]
                while cursor.nextset():
                    out.append(cursor.fetchone())
                return out
            out = []
            for row in rows:
                cursor.execute(self.sql, self.params(row))
                out.append(cursor.fetchone() if cursor.description is not None else None)
            return out
        finally:
            cursor.close()

    async def aexecute_each(self, aconn: Any, rows: Sequence[dict[str, Any]]) -> list[Any]:
        """:meth:`execute_each` on a psycopg ``AsyncConnection`` (a statement with ``RETURNING``)."""
        async with aconn.cursor() as cursor:
            await cursor.executemany(self.sql, [self.params(r) for r in rows], returning=True)
            out = [await cursor.fetchone()]
            while cursor.nextset():
                out.append(await cursor.fetchone())
            return out

    async def aexecute_many(self, aconn: Any, rows: Sequence[dict[str, Any]]) -> None:
        """:meth:`execute_many` on a psycopg ``AsyncConnection``."""
        async with aconn.cursor() as cursor:
            await cursor.executemany(self.sql, [self.params(r) for r in rows])

    def execute_many(self, dbapi_connection: Any, rows: Sequence[dict[str, Any]]) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.executemany(self.sql, [self.params(r) for r in rows])
        finally:
            cursor.close()


class PartialWrite(Exception):
    """:meth:`SyncDb.write_rows` failed after writing its first ``written`` rows (see ``__cause__``)."""

    def __init__(self, written: int) -> None:
        super().__init__(f"failed after {written} rows")
        self.written = written


class Busy(Exception):
    """The write cannot be done on the event loop now (SQLite's write lock is held by another
    connection, or the loop's PostgreSQL connection failed): do it through a database thread."""


_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None) or 0
    return (code & 0xFF) in _BUSY_CODES  # (extended codes carry the primary one in the low byte)


class InlineSqlite:
    """A SQLite connection for short write transactions on the event loop's thread, never waiting.

    ``busy_timeout`` is 0: when another connection holds the write lock, :meth:`run` raises
    :class:`Busy` at once (nothing written) and the caller takes the database thread instead. It
    never checkpoints the WAL (``wal_autocheckpoint=0``): :meth:`SyncDb.checkpoint` does, in the
    database thread, so the event loop never waits for an fsync (WAL with ``synchronous=NORMAL``: a
    commit only appends to the WAL file). Only the event loop's thread uses it.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            fairy = self.engine.raw_connection()  # the engine's connect hooks ran (WAL, foreign keys …)
            fairy.detach()  # ours for good, out of the pool
            conn = fairy.dbapi_connection
            assert isinstance(conn, sqlite3.Connection)
            conn.isolation_level = None  # explicit BEGIN IMMEDIATE / COMMIT below
            conn.execute("PRAGMA busy_timeout=0")
            conn.execute("PRAGMA wal_autocheckpoint=0")
            self._conn = conn
        return self._conn

    def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(connection)`` in one write transaction, committed; :class:`Busy` (rolled back, nothing
        written) when the write lock is taken; any other error rolled back and raised."""
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise Busy() from None
            raise
        try:
            result = fn(conn)
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                raise Busy() from None
            raise
        return result

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class LoopPostgres:
    """A psycopg ``AsyncConnection`` for the small write transactions of every request, on the event
    loop: no thread hop, and no wait for the GIL after each round trip (a database thread waits for
    it up to the 5 ms switch interval while the event loop works). One transaction at a time.

    A connection that breaks (``OperationalError``) is dropped; the caller then takes a database
    thread for that transaction (:class:`Busy`), and the next one connects again.
    """

    CONNECT_TIMEOUT = 5

    def __init__(self, engine: Engine) -> None:
        url = engine.url.set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)
        self._conn: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None

    async def run(self, stmt: DriverStatement, rows: Sequence[dict[str, Any]], *, each: bool) -> Any:
        """``stmt`` for every row in one transaction: :meth:`DriverStatement.aexecute_each` (``each``)
        or :meth:`DriverStatement.aexecute_many`. :class:`Busy` when the connection failed."""
        import psycopg

        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # (a connection belongs to the loop it was made in)
            self.close()
            self._loop, self._lock = loop, asyncio.Lock()
        assert self._lock is not None
        async with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = await psycopg.AsyncConnection.connect(
                        self._conninfo, autocommit=True, connect_timeout=self.CONNECT_TIMEOUT
                    )
                async with self._conn.transaction():
                    if each:
                        return await stmt.aexecute_each(self._conn, rows)
                    return await stmt.aexecute_many(self._conn, rows)
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                log.warning("database connection of the event loop failed (%s); using a thread", type(exc).__name__)
                self.close()
                raise Busy() from exc
            except asyncio.CancelledError:
                self.close()  # cut off mid-transaction (shutdown): its state is unknown, the server rolls back
                raise

    def close(self) -> None:
        """Close the connection at once (also from another thread, after the loop stopped using it)."""
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            conn.pgconn.finish()


def _work(stmt: DriverStatement, rows: Sequence[dict[str, Any]], each: bool) -> Callable[[Any], Any]:
    """``work(dbapi_connection)``: :meth:`DriverStatement.execute_each` (``each``) or ``execute_many``."""
    return functools.partial(stmt.execute_each if each else stmt.execute_many, rows=rows)


def inline_sqlite(engine: Engine) -> InlineSqlite | None:
    """An :class:`InlineSqlite` for a SQLite file database; ``None`` for PostgreSQL (it has
    :class:`LoopPostgres`) and for an in-memory database (another connection is another database)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database or ""
    if not database or database == ":memory:" or "mode=memory" in database:
        return None
    return InlineSqlite(engine)


class SyncDb:
    """An engine, its session factory, and the threads that run work on them."""

    def __init__(self, engine: Engine, *, threads: int | None = None) -> None:
        self.engine = engine
        self.sessionmaker: sessionmaker[Session] = make_sessionmaker(engine)
        self.is_sqlite = engine.dialect.name == "sqlite"
        workers = threads if threads is not None else (1 if self.is_sqlite else 8)
        self.threads = workers
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cunwu-db")
        self.inline = inline_sqlite(engine)
        """Write transactions on the event loop when the SQLite write lock is free (``None``: PostgreSQL)."""
        self.loop_pg = LoopPostgres(engine) if engine.dialect.name == "postgresql" else None
        """Write transactions on the event loop's own PostgreSQL connection (``None``: SQLite)."""
        self.inline_writes = 0
        self.inline_busy = 0
        self._checkpointed_at = 0

    def execute_here(self, stmt: DriverStatement, rows: Sequence[dict[str, Any]], *, each: bool = False) -> Any:
        """``stmt`` for every row in one write transaction on the calling (event loop) thread, through
        SQLite's :attr:`inline` connection: :meth:`DriverStatement.execute_each` (``each``: the first row
        each run returned) or :meth:`DriverStatement.execute_many`. Raises :class:`Busy` when that cannot
        be done at once: no inline connection (PostgreSQL), or the write lock is held elsewhere."""
        if self.inline is None:
            raise Busy()
        try:
            result = self.inline.run(_work(stmt, rows, each))
        except Busy:
            self.inline_busy += 1
            raise
        self.inline_writes += 1
        return result

    async def execute(self, stmt: DriverStatement, rows: Sequence[dict[str, Any]], *, each: bool = False) -> Any:
        """:meth:`execute_here`'s work wherever it can be done: on the event loop (SQLite when its write
        lock is free, PostgreSQL on the loop's own connection), else in a database thread."""
        if self.inline is not None:
            try:
                return self.execute_here(stmt, rows, each=each)
            except Busy:
                pass
        elif self.loop_pg is not None:
            try:
                result = await self.loop_pg.run(stmt, rows, each=each)
            except Busy:
                self.inline_busy += 1
            else:
                self.inline_writes += 1
                return result
        return await self.call(self._in_transaction, _work(stmt, rows, each))

    async def write_rows(self, stmt: DriverStatement, rows: Sequence[dict[str, Any]]) -> None:
        """``stmt`` once for each row, in transactions of at most :data:`ROWS_PER_WRITE` rows (on the
        event loop one holds it for about a millisecond at most). On failure raises
        :class:`PartialWrite`, which says how many rows (the first ones) were written."""
        for start in range(0, len(rows), ROWS_PER_WRITE):
            try:
                await self.execute(stmt, rows[start : start + ROWS_PER_WRITE])
            except Exception as exc:
                raise PartialWrite(start) from exc

    def _in_transaction(self, fn: Callable[[Any], T]) -> T:
        with self.engine.begin() as conn:
            return fn(conn.connection)

    def stats(self) -> dict[str, int]:
        """For ``/healthz``: write transactions done on the event loop, and those that went to a
        database thread instead (SQLite's write lock taken, or the loop's PostgreSQL connection failed)."""
        return {"threads": self.threads, "inline_writes": self.inline_writes, "inline_busy": self.inline_busy}

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

    async def checkpoint(self) -> None:
        """Copy the WAL into the database file (``PASSIVE``: waits for no reader or writer), in a
        database thread; the inline connection never does (:class:`InlineSqlite`). A no-op unless
        something was written inline since the last one."""
        if self.inline is None or self.inline_writes == self._checkpointed_at:
            return
        self._checkpointed_at = self.inline_writes
        await self.call(self._checkpoint)

    def _checkpoint(self) -> None:
        with self.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    async def run(self, interval: float = CHECKPOINT_INTERVAL) -> None:
        """Checkpoint every ``interval`` seconds, forever (cancel to stop)."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.checkpoint()
            except Exception:
                log.warning("WAL checkpoint failed; will retry", exc_info=True)

    async def flush(self) -> int:
        """A last checkpoint (at shutdown)."""
        await self.checkpoint()
        return 0

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=False)
        if self.inline is not None:
            self.inline.close()
        if self.loop_pg is not None:
            self.loop_pg.close()
        self.engine.dispose()
