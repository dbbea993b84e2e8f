"""Deduplication of WeChat's retries: one claim per message, across app instances, and the one writer."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, func, select, text

from bot.app import CONVERSATION, WRITER
from bot.claims import ClaimStore
from bot.models import VIA_CUSTOMER_SERVICE, InboundMessage
from bot.writer import Writer
from core.db import make_engine, utcnow
from core.schema import upgrade
from tests.bot.conftest import BotFactory, StubMatcher

OPENID = "oDedupe00001"


@pytest.fixture
async def writers(migrated_url: str) -> AsyncIterator[tuple[Writer, Writer]]:
    """Two writers on one database: two processes, as far as the database can tell."""
    a, b = Writer(make_engine(migrated_url)), Writer(make_engine(migrated_url))
    a.start()
    b.start()
    yield a, b
    for w in (a, b):
        await asyncio.to_thread(w.stop)
        w.engine.dispose()


def _claim(store: ClaimStore, key: str) -> Any:
    return lambda conn: store.claim_many(conn, [(key, OPENID, "text", utcnow())])[0]


async def test_claim_is_won_once_and_many_claims_share_a_pass(writers: tuple[Writer, Writer]) -> None:
    a, b = writers
    store = ClaimStore(a.engine.dialect.name)
    results = await asyncio.gather(*(w.submit(_claim(store, "msg:1")) for w in [a, b, a, b, a, b]))
    assert sorted(results) == [False] * 5 + [True]
    keys = [f"msg:{n}" for n in range(100, 140)]
    passes = a.passes
    assert all(await asyncio.gather(*(a.submit(_claim(store, k)) for k in keys)))
    assert a.passes - passes < len(keys)  # queued claims went together
    assert not any(await asyncio.gather(*(b.submit(_claim(store, k)) for k in keys)))


async def test_a_failing_write_fails_alone(writers: tuple[Writer, Writer]) -> None:
    a, _ = writers
    store = ClaimStore(a.engine.dialect.name)

    def broken(conn: Connection) -> None:
        conn.execute(text("SELECT * FROM no_such_table"))

    jobs = [a.submit(_claim(store, f"k{n}")) if n != 3 else a.submit(broken) for n in range(8)]
    results = await asyncio.gather(*jobs, return_exceptions=True)
    assert isinstance(results[3], Exception)
    assert [r for n, r in enumerate(results) if n != 3] == [True] * 7
    with a.engine.connect() as conn:
        keys = set(conn.execute(select(InboundMessage.dedupe_key)).scalars())
    assert keys == {f"k{n}" for n in range(8)} - {"k3"}


async def test_retries_wait_for_the_answer_locally_and_across_processes(
    make_bot: BotFactory, migrated_url: str
) -> None:
    app_a, _ = await make_bot(migrated_url, matcher=StubMatcher())
    app_b, _ = await make_bot(migrated_url, matcher=StubMatcher())
    a, b = app_a[CONVERSATION], app_b[CONVERSATION]
    store = a.claims
    assert await app_a[WRITER].submit(_claim(store, "msg:9")) is True
    assert await b.wait_for("msg:9", 0.3) is None  # claimed, never answered: nothing within the time
    a._finish("msg:9", "答复", VIA_CUSTOMER_SERVICE)
    assert (await a.lookup("msg:9")).reply == "答复"  # type: ignore[union-attr]
    assert await a.flush() == 1
    remote = await b.wait_for("msg:9", 1.0)
    assert remote is not None and remote.reply == "答复" and remote.via == VIA_CUSTOMER_SERVICE
    assert await b.wait_for("never-claimed", 0.1) is None
    assert await a.prune(utcnow() - dt.timedelta(days=1)) == 0
    assert await a.prune(utcnow() + dt.timedelta(seconds=1)) == 1
    assert await app_a[WRITER].submit(_claim(store, "msg:9"))  # a message that old would be new again


async def test_two_app_instances_on_one_database_answer_a_retry_once(make_bot: BotFactory, migrated_url: str) -> None:
    first_matcher, second_matcher = StubMatcher(delay=0.4), StubMatcher(delay=0.4)
    _, wx1 = await make_bot(migrated_url, matcher=first_matcher)
    _, wx2 = await make_bot(migrated_url, matcher=second_matcher)
    replies = await asyncio.gather(
        wx1.text(OPENID, "残疾人两项补贴怎么领", msg_id=4242),
        wx2.text(OPENID, "残疾人两项补贴怎么领", msg_id=4242),
        wx2.text(OPENID, "残疾人两项补贴怎么领", msg_id=4242),
        wx1.text(OPENID, "残疾人两项补贴怎么领", msg_id=4242),
    )
    assert [r.content for r in replies] == ["答：残疾人两项补贴怎么领"] * 4
    assert len(first_matcher.calls) + len(second_matcher.calls) == 1
    # events are deduplicated by FromUserName + CreateTime
    events = await asyncio.gather(
        wx1.event(OPENID, "subscribe", create_time=1_790_000_000),
        wx2.event(OPENID, "subscribe", create_time=1_790_000_000),
    )
    assert [e.status for e in events] == [200, 200]
    assert sum(1 for e in events if e.content and "欢迎" in e.content) == 2  # the retry gets the stored reply
    different = await wx2.event(OPENID, "subscribe", create_time=1_790_000_001)
    assert different.content is not None and "欢迎" in different.content


async def test_the_bot_keeps_answering_while_an_import_holds_the_write_lock(
    make_bot: BotFactory, tmp_path: Path, stub: StubMatcher
) -> None:
    """SQLite: another connection (a `cunwu` import) holds the write lock for seconds while messages
    arrive. Every villager gets a real answer in time, /healthz stays 200 and shows the backlog, and
    the claims are written once the lock is free (a retry then is still answered once)."""
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    app, wx = await make_bot(url, matcher=stub, budget=1.5)
    other = sqlite3.connect(tmp_path / "locked.db", isolation_level=None, check_same_thread=False)
    loop = asyncio.get_running_loop()
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute(
            "INSERT INTO bot_question_log (user_hash, channel, question, normalized, answered, top_id,"
            " top_kind, latency_ms, created_at) VALUES ('', 'cli', 'x', 'x', 0, '', '', 0, '2026-01-01')"
        )
        started = loop.time()
        replies = []
        for n in range(12):  # about four seconds of messages
            sent = loop.time()
            replies.append(await wx.text(f"oLocked{n:05d}", f"低保怎么申请{n}", msg_id=7000 + n))
            assert loop.time() - sent < 1.5
            await asyncio.sleep(0.3)
        assert [r.content for r in replies] == [f"答：低保怎么申请{n}" for n in range(12)]
        health = await wx.client.get("/healthz")
        body = await health.json()
        assert health.status == 200 and body["database_writes"]["backlog"] > 0
        assert body["wechat"]["claims_in_memory"] == 12
        retry = await wx.text("oLocked00003", "低保怎么申请3", msg_id=7003)  # answered from memory
        assert retry.content == "答：低保怎么申请3" and len(stub.calls) == 12
        assert loop.time() - started > 3
    finally:
        other.execute("ROLLBACK")
        other.close()
    for _ in range(200):
        if app[WRITER].backlog == 0 and not app[CONVERSATION]._unwritten:
            break
        await asyncio.sleep(0.05)
    engine = make_engine(url)
    with engine.connect() as conn:
        claimed = conn.execute(select(func.count()).select_from(InboundMessage)).scalar_one()
        done = conn.execute(select(func.count()).where(InboundMessage.status == "done")).scalar_one()
    engine.dispose()
    assert claimed == done == 12
    again = await wx.text("oLocked00004", "低保怎么申请4", msg_id=7004)
    assert again.content == "答：低保怎么申请4" and len(stub.calls) == 12


async def test_claims_of_one_pass_go_in_one_statement_each_won_once(writers: tuple[Writer, Writer]) -> None:
    a, b = writers
    store = ClaimStore(a.engine.dialect.name)
    claims = [(f"b:{n % 1100}", OPENID, "text", utcnow()) for n in range(1200)]  # more than one statement's worth
    futures = [a.submit_batch(store.claim_many, claim) for claim in claims]
    won = await asyncio.gather(*futures)
    assert won == [True] * 1100 + [False] * 100  # a key twice: the first one won
    again = [b.submit_batch(store.claim_many, (f"b:{n + 1099}", OPENID, "text", utcnow())) for n in range(3)]
    assert await asyncio.gather(*again) == [False, True, True]
