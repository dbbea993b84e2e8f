"""Deduplication of WeChat's retries in the database: one claim per message, across app instances."""

from __future__ import annotations

import asyncio
import datetime as dt

from bot.db import SyncDb
from bot.dedupe import Deduper
from bot.models import VIA_CUSTOMER_SERVICE, VIA_PASSIVE
from core.db import make_engine, utcnow
from tests.bot.conftest import BotFactory, StubMatcher

OPENID = "oDedupe00001"


async def test_claim_is_won_once(migrated_url: str) -> None:
    db_a, db_b = SyncDb(make_engine(migrated_url)), SyncDb(make_engine(migrated_url))
    try:
        a = Deduper(db_a)
        b = Deduper(db_b)  # another "process"
        results = await asyncio.gather(*(d.claim("msg:1", openid=OPENID) for d in [a, b, a, b, a, b]))
        assert sorted(results) == [False] * 5 + [True]
        winner = a if a._local else b
        loser = b if winner is a else a
        # the loser polls the database; the winner's local waiters use the future
        waiting_remote = asyncio.create_task(loser.wait_for("msg:1", 2.0))
        waiting_local = asyncio.create_task(winner.wait_for("msg:1", 2.0))
        await asyncio.sleep(0.1)
        assert not waiting_remote.done() and not waiting_local.done()
        winner.finish("msg:1", "答复", VIA_PASSIVE)  # local waiters at once; the row is written behind
        assert await winner.lookup("msg:1") is not None
        await winner.flush()
        remote, local = await asyncio.gather(waiting_remote, waiting_local)
        assert remote is not None and remote.reply == "答复" and remote.via == VIA_PASSIVE
        assert local is not None and local.reply == "答复"
        assert await a.claim("msg:1") is False  # still claimed after it is done
    finally:
        db_a.close()
        if db_b is not db_a:
            db_b.close()


async def test_wait_for_times_out(migrated_url: str) -> None:
    db_a, db_b = SyncDb(make_engine(migrated_url)), SyncDb(make_engine(migrated_url))
    try:
        a, b = Deduper(db_a), Deduper(db_b)
        assert await a.claim("evt:o1:123:subscribe")
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await b.wait_for("evt:o1:123:subscribe", 0.3) is None
        assert 0.25 <= loop.time() - started < 1.0
        assert await b.wait_for("never-claimed", 0.1) is None
    finally:
        db_a.close()
        if db_b is not db_a:
            db_b.close()


async def test_prune(migrated_url: str) -> None:
    db_a = SyncDb(make_engine(migrated_url))
    db_b = db_a
    try:
        d = Deduper(db_a)
        assert await d.claim("msg:old")
        d.finish("msg:old", None, VIA_CUSTOMER_SERVICE)
        assert await d.flush() == 1
        assert await d.prune(utcnow() - dt.timedelta(days=1)) == 0
        assert await d.prune(utcnow() + dt.timedelta(seconds=1)) == 1
        assert await d.claim("msg:old")  # a message that old would be new again
    finally:
        db_a.close()
        if db_b is not db_a:
            db_b.close()


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
