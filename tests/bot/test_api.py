"""GET /api/ask (the object ``cunwu ask --json`` prints), GET /healthz, and the matcher lifecycle."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import MATCHER, QUESTION_LOG
from bot.matching import QuestionMatcher
from bot.models import QuestionLog
from core.db import make_engine, make_sessionmaker
from tests.bot.conftest import BotFactory, StubMatcher
from tests.bot.test_dialogue import CountingMatcher, sample_matcher, sample_url  # noqa: F401  (fixtures)
from tests.conftest import Cunwu


def _without_ms(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "ms"}


async def test_ask_returns_the_matcher_object(
    make_bot: BotFactory,
    sample_url: str,  # noqa: F811
    sample_matcher: QuestionMatcher,  # noqa: F811
) -> None:
    app, wx = await make_bot(sample_url, matcher=CountingMatcher(sample_matcher))
    resp = await wx.client.get("/api/ask", params={"q": "低保怎么申请"})
    assert resp.status == 200
    assert resp.content_type == "application/json"
    data = await resp.json()
    expected = sample_matcher.ask("低保怎么申请").to_dict()
    assert _without_ms(data) == _without_ms(expected)
    assert data["answered"] is True and data["results"][0]["id"]
    assert isinstance(data["ms"], float)

    scoped = await (await wx.client.get("/api/ask", params={"q": "村里财务多久公开一次", "village": "qh03"})).json()
    assert _without_ms(scoped) == _without_ms(sample_matcher.ask("村里财务多久公开一次", village="QH03").to_dict())

    await app[QUESTION_LOG].flush()
    engine = make_engine(sample_url)
    with make_sessionmaker(engine)() as session:
        rows = list(session.scalars(select(QuestionLog).order_by(QuestionLog.id)))
    engine.dispose()
    assert [(r.channel, r.village, r.question) for r in rows] == [
        ("api", None, "低保怎么申请"),
        ("api", "QH03", "村里财务多久公开一次"),
    ]


async def test_ask_matches_the_cli_json(
    make_bot: BotFactory,
    sample_url: str,  # noqa: F811
    sample_matcher: QuestionMatcher,  # noqa: F811
) -> None:
    result = Cunwu(sample_url)("ask", "低保怎么申请", "--json")
    if result.exit_code != 0 or "No such command" in result.output:
        pytest.skip("cunwu ask is not available yet")
    _, wx = await make_bot(sample_url, matcher=CountingMatcher(sample_matcher))
    data = await (await wx.client.get("/api/ask", params={"q": "低保怎么申请"})).json()
    cli = json.loads(result.output)
    assert _without_ms(data) == _without_ms(cli)


async def test_ask_rejects_bad_input(make_bot: BotFactory, migrated_url: str, stub: StubMatcher) -> None:
    _, wx = await make_bot(migrated_url, matcher=stub)
    assert (await wx.client.get("/api/ask")).status == 400
    assert (await wx.client.get("/api/ask", params={"q": "   "})).status == 400
    long = await wx.client.get("/api/ask", params={"q": "低" * 201})
    assert long.status == 400 and "太长" in (await long.json())["error"]
    assert (await wx.client.get("/api/ask", params={"q": "低保", "village": "X" * 40})).status == 400
    assert stub.calls == []


async def test_healthz(make_bot: BotFactory, migrated_url: str, stub: StubMatcher) -> None:
    _, wx = await make_bot(migrated_url, matcher=stub)
    await wx.text("oHealth00001", "低保怎么申请")
    resp = await wx.client.get("/healthz")
    assert resp.status == 200
    data = await resp.json()
    assert data["status"] == "ok" and data["database"] is True and data["matcher"]["ready"] is True
    assert data["wechat"]["errors"] == 0 and data["wechat"]["replied"] == 1
    writes = data["database_writes"]  # the claim went through the writer
    assert writes["passes"] >= 1 and writes["stalled"] is False


class BrokenFactory:
    def __init__(self) -> None:
        self.attempts = 0

    def __call__(self, _session: Any) -> QuestionMatcher:
        self.attempts += 1
        raise RuntimeError("index build failed")


async def test_matcher_not_ready_degrades_politely(make_bot: BotFactory, migrated_url: str) -> None:
    broken = BrokenFactory()

    class Holder:
        factory = broken

    app, wx = await make_bot(migrated_url, matcher=Holder, refresh_interval=3600)
    health = await wx.client.get("/healthz")
    assert health.status == 503 and (await health.json())["matcher"]["ready"] is False
    ask = await wx.client.get("/api/ask", params={"q": "低保"})
    assert ask.status == 503
    reply = await wx.text("oNotReady001", "低保怎么申请")
    assert reply.content is not None and "稍后" in reply.content
    commands_still_work = await wx.text("oNotReady001", "帮助")
    assert commands_still_work.content is not None and "使用说明" in commands_still_work.content
    assert broken.attempts == 1
    assert app[MATCHER].ready is False


async def test_content_change_rebuilds_the_matcher(make_bot: BotFactory, migrated_url: str) -> None:
    built: list[StubMatcher] = []

    class Factory:
        @staticmethod
        def factory(_session: Any) -> StubMatcher:
            built.append(StubMatcher())
            return built[-1]

    app, _ = await make_bot(migrated_url, matcher=Factory, refresh_interval=0.05)
    assert len(built) == 1
    await asyncio.sleep(0.2)
    assert len(built) == 1  # nothing changed: no rebuild
    from content.repository import bump_revision

    engine = make_engine(migrated_url)
    with make_sessionmaker(engine).begin() as session:
        bump_revision(session)
    engine.dispose()
    for _ in range(100):
        if len(built) == 2:
            break
        await asyncio.sleep(0.05)
    assert len(built) == 2
    assert app[MATCHER].current is built[1]
