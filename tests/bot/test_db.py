"""The bot's database bridge: SQLite writes on the event loop when the write lock is free, the
database thread when it is not (or on PostgreSQL), chunked write-behinds and WAL checkpoints."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from bot.db import ROWS_PER_WRITE, SyncDb
from bot.dedupe import ClaimTimeout, Deduper
from bot.dialogue import sender_village
from bot.models import InboundMessage, QuestionLog
from bot.question_log import QuestionEntry, QuestionLogger
from core.db import make_engine
from core.schema import upgrade
from tests.bot.conftest import BotFactory, StubMatcher, fail_on, seed_follower


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Any:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with engine.connect() as conn:  # the schema into the database file: the WAL starts empty
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db = SyncDb(engine)
    yield db, tmp_path / "bot.db"
    db.close()


def _rows(db: SyncDb, model: Any) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def test_inline_writes_only_for_sqlite_files(migrated_url: str) -> None:
    db = SyncDb(make_engine(migrated_url))
    try:
        assert (db.inline is not None) == migrated_url.startswith("sqlite")
    finally:
        db.close()
    memory = SyncDb(make_engine("sqlite://"))
    try:
        assert memory.inline is None  # another connection would be another database
    finally:
        memory.close()


async def test_claims_of_one_loop_turn_go_in_one_transaction_on_the_loop(sqlite_db: Any) -> None:
    db, _ = sqlite_db
    seed_follower(db.engine, "oBound000001", "QH01")
    d = Deduper(db, also_return=sender_village())
    openids = ["oBound000001" if n % 2 else "oStranger001" for n in range(8)]
    results = await asyncio.gather(*(d.claim_and_read(f"msg:{n}", openid=o) for n, o in enumerate(openids)))
    assert results == [(True, "QH01" if n % 2 else None) for n in range(8)]  # the village, read by the claim
    assert d.claim_batches == 1 and db.inline_writes == 1 and db.inline_busy == 0  # one transaction, no hop
    assert await asyncio.gather(*(d.claim_and_read(f"msg:{n}") for n in range(8))) == [(False, None)] * 8
    assert _rows(db, InboundMessage) == 8


async def test_a_held_write_lock_sends_claims_through_the_thread(sqlite_db: Any) -> None:
    """Another connection (another process, a ``cunwu`` import) holds the write lock: the loop does
    not wait on it; the claims wait in the database thread and are won once the lock is released."""
    db, path = sqlite_db
    d = Deduper(db)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        other.execute("BEGIN IMMEDIATE")
        claims = asyncio.gather(*(d.claim(f"held:{n}") for n in range(4)))
        loop = asyncio.get_running_loop()
        ticks = 0
        deadline = loop.time() + 0.3
        while loop.time() < deadline:  # the event loop keeps turning meanwhile
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks >= 10 and not claims.done()
        assert db.inline_busy >= 1
        other.execute("COMMIT")
        assert await asyncio.wait_for(claims, 10) == [True] * 4
    finally:
        other.close()
    assert _rows(db, InboundMessage) == 4
    assert await d.claim("after") is True  # back on the loop
    assert db.inline_writes >= 1


async def test_a_failing_claim_on_the_loop_fails_alone(sqlite_db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    db, _ = sqlite_db
    seed_follower(db.engine, "o1", "V1")
    d = Deduper(db, also_return=sender_village())
    fail_on(monkeypatch, d, "k2")
    results = await asyncio.gather(*(d.claim_and_read(f"k{n}", openid="o1") for n in range(5)), return_exceptions=True)
    assert isinstance(results[2], RuntimeError)
    assert [r for n, r in enumerate(results) if n != 2] == [(True, "V1")] * 4
    assert _rows(db, InboundMessage) == 4


async def test_write_behind_goes_in_bounded_transactions(sqlite_db: Any) -> None:
    db, _ = sqlite_db
    log = QuestionLogger(db)
    n = ROWS_PER_WRITE * 2 + 7
    for i in range(n):
        log.record(QuestionEntry("低保怎么申请", "低保怎么申请", True, "A01", "catalog", 1.0, openid=f"o{i}"))
    assert await log.flush() == n
    assert db.inline_writes == 3  # 200 + 200 + 7
    assert _rows(db, QuestionLog) == n


async def test_a_failed_chunk_keeps_what_was_not_written(sqlite_db: Any) -> None:
    db, _ = sqlite_db
    log = QuestionLogger(db)
    n = ROWS_PER_WRITE + 50
    for i in range(n):
        log.record(QuestionEntry("低保", "低保", True, "A01", "catalog", 1.0, openid=f"o{i}"))
    log._buffer[ROWS_PER_WRITE + 10]["question"] = None  # NOT NULL: the second chunk fails
    assert await log.flush() == ROWS_PER_WRITE
    assert log.pending == 50 and _rows(db, QuestionLog) == ROWS_PER_WRITE  # nothing lost, nothing twice
    log._buffer[10]["question"] = "低保"
    assert await log.flush() == 50
    assert _rows(db, QuestionLog) == n


async def test_the_loop_never_checkpoints_the_database_thread_does(sqlite_db: Any) -> None:
    db, path = sqlite_db
    d = Deduper(db)
    assert await asyncio.gather(*(d.claim(f"ck:{n}") for n in range(20))) == [True] * 20
    assert db.inline is not None
    conn = db.inline._connection()
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    assert conn.execute("PRAGMA busy_timeout").fetchone() == (0,)

    def in_file() -> int:
        """Rows in the database file itself, not counting the WAL (``immutable`` ignores it)."""
        ro = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        try:
            return int(ro.execute("SELECT count(*) FROM bot_inbound_messages").fetchone()[0])
        finally:
            ro.close()

    assert in_file() == 0  # still only in the WAL
    await db.checkpoint()
    assert in_file() == 20


@pytest.mark.pg
async def test_a_broken_loop_connection_falls_back_to_a_thread_then_reconnects(pg_url: str) -> None:
    engine = make_engine(pg_url)
    upgrade(engine)
    db = SyncDb(engine)
    try:
        assert db.inline is None and db.loop_pg is not None
        d = Deduper(db)
        assert await d.claim("pg:a")
        assert db.inline_writes == 1  # on the event loop's own connection
        pid = db.loop_pg._conn.info.backend_pid
        with engine.connect() as conn:  # the server drops that connection (a restart, a network cut)
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar() is True
        assert await d.claim("pg:b")  # through a database thread, nothing lost
        assert db.inline_busy == 1
        assert await d.claim("pg:c")  # and back on a new connection of the loop
        assert db.inline_writes == 2
        assert await asyncio.gather(*(d.claim(k) for k in ("pg:a", "pg:b", "pg:c"))) == [False] * 3
        assert _rows(db, InboundMessage) == 3
    finally:
        db.close()


@pytest.mark.pg
def test_the_loop_connection_follows_the_event_loop(pg_url: str) -> None:
    """A connection belongs to the event loop it was made in: another loop gets its own."""
    engine = make_engine(pg_url)
    upgrade(engine)
    db = SyncDb(engine)
    try:
        d = Deduper(db)
        assert asyncio.run(d.claim("loop:1"))
        assert asyncio.run(Deduper(db).claim("loop:2"))
        assert db.inline_writes == 2 and db.inline_busy == 0
    finally:
        db.close()


async def test_a_claim_stalled_by_a_held_lock_times_out_in_time(sqlite_db: Any) -> None:
    db, path = sqlite_db
    d = Deduper(db, claim_timeout=0.3)
    runner = asyncio.create_task(d.run())
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        other.execute("BEGIN IMMEDIATE")  # e.g. a long `cunwu` import
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(ClaimTimeout):
            await d.claim("stalled:1")
        assert 0.3 <= loop.time() - started < 1.5 and d.claims_expired == 1
        other.execute("COMMIT")
        for _ in range(100):  # the database thread's claim goes through once the lock is free
            if _rows(db, InboundMessage) == 1:
                break
            await asyncio.sleep(0.05)
        assert _rows(db, InboundMessage) == 1
        assert await d.claim("stalled:1") is False  # a retry of it is not answered twice
        assert await d.claim("fresh:1") is True and d.claims_expired == 1
    finally:
        other.close()
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner


async def test_the_bot_apologises_in_time_when_the_database_is_locked(
    make_bot: BotFactory, tmp_path: Path, stub: StubMatcher
) -> None:
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    _, wx = await make_bot(url, matcher=stub, budget=1.0)
    other = sqlite3.connect(tmp_path / "locked.db", isolation_level=None, check_same_thread=False)
    try:
        other.execute("BEGIN IMMEDIATE")
        loop = asyncio.get_running_loop()
        started = loop.time()
        reply = await wx.text("oLocked00001", "低保怎么申请", msg_id=777)
        assert loop.time() - started < 2.0  # within WeChat's 5 seconds, not after the 10 s busy timeout
        assert reply.status == 200 and reply.content is not None and "稍后再试" in reply.content
        assert stub.calls == []
    finally:
        other.execute("COMMIT")
        other.close()
    later = await wx.text("oLocked00001", "低保怎么申请", msg_id=778)  # the lock is free again
    assert later.content == "答：低保怎么申请"
