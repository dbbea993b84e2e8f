"""The bot's answer caches (the fast path of a repeated question)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.matching import MatcherHolder
from content.matcher.documents import KIND_CATALOG, KIND_INTERPRETATION, Doc
from content.matcher.service import Matcher
from core.db import make_engine, make_sessionmaker
from tests.bot.conftest import StubMatcher

DOCS = [
    Doc(kind=KIND_CATALOG, id="C1", title="最低生活保障办事指南", township="清河镇", elements=("申请条件", "办理流程")),
    Doc(kind=KIND_CATALOG, id="C2", title="耕地地力保护补贴发放情况", township="清河镇", elements=("补贴标准",)),
    Doc(
        kind=KIND_INTERPRETATION,
        id="JD-1",
        title="城乡低保政策解读",
        keywords=("低保",),
        questions=("低保怎么申请？",),
        answers=("向村委会提出申请。",),
        disclosure="主动公开",
    ),
]


class CountingMatcher(Matcher):
    """The real matcher, counting the questions it actually matches."""

    calls = 0

    def ask(self, question: str, village: str | None = None, township: str | None = None, top: int = 3) -> Any:
        type(self).calls += 1
        return super().ask(question, village, township, top)


@pytest.fixture
def holder_factory(migrated_url: str) -> Any:
    engines = []

    def make(matcher: Any) -> MatcherHolder:
        engine = make_engine(migrated_url)
        engines.append(engine)
        factory: sessionmaker[Session] = make_sessionmaker(engine)
        holder = MatcherHolder(lambda _session: matcher, factory)
        holder.build()
        return holder

    yield make
    for engine in engines:
        engine.dispose()


def test_cached_is_read_without_matching(holder_factory: Any) -> None:
    stub = StubMatcher()
    holder = holder_factory(stub)
    assert holder.cached("低保怎么申请") is None
    first = holder.ask("低保怎么申请", "V1")
    assert holder.cached("低保怎么申请", "V1") is first
    assert holder.cached(" 低保怎么申请 ", "V1") is first  # the key is the stripped text
    assert holder.cached("低保怎么申请", "V2") is None  # another village
    assert holder.ask("低保怎么申请", "V1") is first
    assert len(stub.calls) == 1 and holder.cache_hits == 3


async def test_concurrent_asks_of_one_question_are_matched_once(holder_factory: Any) -> None:
    stub = StubMatcher(delay=0.2)
    holder = holder_factory(stub)
    try:
        results = await asyncio.gather(*(holder.ask_async("低保怎么申请", "V1") for _ in range(5)))
        assert len(stub.calls) == 1 and holder.shared_asks == 4
        assert all(r is results[0] for r in results)
        other = await asyncio.gather(holder.ask_async("低保怎么申请", "V2"), holder.ask_async("医保怎么交"))
        assert [r.reply for r in other] == ["答：低保怎么申请", "答：医保怎么交"]
        assert len(stub.calls) == 3  # another village, another question: matched on their own
        assert await holder.ask_async("低保怎么申请", "V1") is results[0]  # now from the cache
        assert len(stub.calls) == 3
    finally:
        holder.close()


async def test_shared_asks_without_a_cache_still_match_once_each_time(migrated_url: str) -> None:
    stub = StubMatcher(delay=0.1)
    engine = make_engine(migrated_url)
    try:
        holder = MatcherHolder(stub.factory, make_sessionmaker(engine), cache_size=0)
        holder.build()
        await asyncio.gather(holder.ask_async("低保"), holder.ask_async("低保"))
        assert len(stub.calls) == 1
        await holder.ask_async("低保")  # no cache: asked again later, matched again
        assert len(stub.calls) == 2
        holder.close()
    finally:
        engine.dispose()


async def test_a_cancelled_asker_does_not_cancel_the_others(holder_factory: Any) -> None:
    stub = StubMatcher(delay=0.2)
    holder = holder_factory(stub)
    try:
        first = asyncio.ensure_future(holder.ask_async("低保怎么申请"))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(holder.ask_async("低保怎么申请"))
        await asyncio.sleep(0)
        first.cancel()
        result = await second
        assert result.reply == "答：低保怎么申请" and len(stub.calls) == 1
    finally:
        holder.close()


def test_stand_in_matcher_answers_are_not_shared_by_normalised_text(holder_factory: Any) -> None:
    stub = StubMatcher()
    holder = holder_factory(stub)
    holder.ask("低保怎么申请？")
    holder.ask("低保怎么申请?")  # a stand-in may answer the raw text: matched again
    assert len(stub.calls) == 2


def test_real_matcher_shares_answers_of_the_same_normalised_question(holder_factory: Any) -> None:
    matcher = CountingMatcher.build(DOCS)
    holder = holder_factory(matcher)
    CountingMatcher.calls = 0
    first = holder.ask("低保怎么申请？")
    again = holder.ask("低保怎么申请!!")
    assert again is first and CountingMatcher.calls == 1
    holder.ask("低保怎么申请？", "Q1")  # another village: its own answer
    assert CountingMatcher.calls == 2
    holder.build()  # new content: the caches start empty
    holder.ask("低保怎么申请")
    assert CountingMatcher.calls == 3


@pytest.mark.parametrize(
    ("raw", "variant"),
    [
        ("低保怎么申请？", "低保怎么申请!!"),
        ("耕地补贴发了没", "耕地補貼發了沒"),
        ("低保一个月多少钱", "低保一個月多少錢？"),
    ],
)
def test_real_matcher_answers_depend_only_on_the_normalised_question(raw: str, variant: str) -> None:
    """What the normalised answer cache relies on (content/matcher must keep it true)."""
    matcher = Matcher.build(DOCS)
    a, b = matcher.ask(raw), matcher.ask(variant)
    assert a.normalized == b.normalized
    assert (a.answered, a.reply, a.results) == (b.answered, b.reply, b.results)
