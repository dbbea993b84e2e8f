"""What an operator and a careful attacker see: security headers, the API's limits, quiet logs."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from bot.app import QUESTION_LOG, quiet_malformed_http
from tests.bot.conftest import BotFactory, StubMatcher, make_settings


async def test_html_pages_carry_security_headers(make_bot: BotFactory, migrated_url: str, stub: StubMatcher) -> None:
    _, wx = await make_bot(migrated_url, matcher=stub)
    page = await wx.client.get("/v/NOPE01")  # an unknown village still gets an HTML page
    assert page.content_type == "text/html"
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    api = await wx.client.get("/api/ask", params={"q": "低保"})
    assert api.headers["Content-Type"] == "application/json; charset=utf-8"
    assert "低保" in (await api.read()).decode("utf-8")  # Chinese as characters, not \\uXXXX


async def test_api_is_throttled_per_client_and_head_is_not_logged(
    aiohttp_client: Any, platform: Any, migrated_url: str, stub: StubMatcher
) -> None:
    from bot.app import create_app

    settings = make_settings(migrated_url, platform[1]).replace(api_rate_per_minute=5)
    app = create_app(settings, matcher_factory=stub.factory)
    client = await aiohttp_client(app)
    statuses = [(await client.get("/api/ask", params={"q": f"低保{n}"})).status for n in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    limited = await client.get("/api/ask", params={"q": "低保"})
    assert limited.status == 429 and int(limited.headers["Retry-After"]) >= 1
    await app[QUESTION_LOG].flush()
    assert app[QUESTION_LOG].pending == 0
    head_app = create_app(settings, matcher_factory=stub.factory)
    head_client = await aiohttp_client(head_app)
    assert (await head_client.head("/api/ask", params={"q": "低保"})).status == 200
    assert head_app[QUESTION_LOG].pending == 0  # HEAD is not logged


async def test_api_token_is_required_when_set(
    aiohttp_client: Any, platform: Any, migrated_url: str, stub: StubMatcher
) -> None:
    from bot.app import create_app

    settings = make_settings(migrated_url, platform[1]).replace(api_token="s3cret-api-token")
    client = await aiohttp_client(create_app(settings, matcher_factory=stub.factory))
    assert (await client.get("/api/ask", params={"q": "低保"})).status == 401
    wrong = {"Authorization": "Bearer nope"}
    assert (await client.get("/api/ask", params={"q": "低保"}, headers=wrong)).status == 401
    right = {"Authorization": "Bearer s3cret-api-token"}
    assert (await client.get("/api/ask", params={"q": "低保"}, headers=right)).status == 200


async def test_malformed_http_is_one_info_line(
    make_bot: BotFactory, migrated_url: str, stub: StubMatcher, caplog: pytest.LogCaptureFixture
) -> None:
    quiet_malformed_http()
    _, wx = await make_bot(migrated_url, matcher=stub)
    caplog.set_level(logging.DEBUG)
    server = wx.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(b"GARBAGE \x00\x01 HTTP/9\r\n\r\n")
    await writer.drain()
    assert (await reader.read(100)).startswith(b"HTTP/1.0 400")
    writer.close()
    records = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert records and all(r.levelno == logging.INFO and r.exc_info is None for r in records)
    assert "malformed HTTP request" in records[0].getMessage() and "Traceback" not in caplog.text


async def test_a_database_outage_logs_two_lines(
    make_bot: BotFactory, migrated_url: str, stub: StubMatcher, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy.exc import OperationalError

    from bot.app import CONVERSATION

    app, wx = await make_bot(migrated_url, matcher=stub)
    dialogue = app[CONVERSATION].dialogue
    real = dialogue.village_of

    async def unreachable(openid: str) -> str | None:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    dialogue.village_of = unreachable  # type: ignore[method-assign]
    caplog.set_level(logging.INFO)
    for n in range(10):
        reply = await wx.text(f"oOutage{n:05d}", "低保怎么申请")
        assert reply.content is not None and "稍后再试" in reply.content
    dialogue.village_of = real  # type: ignore[method-assign]
    assert (await wx.text("oOutage99999", "低保怎么申请")).content == "答：低保怎么申请"
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 2 and "unreachable" in warnings[0] and "10 requests failed" in warnings[1]
    assert "Traceback" not in caplog.text


async def test_the_port_opens_before_the_matcher_is_ready(
    make_bot: BotFactory, migrated_url: str, stub: StubMatcher
) -> None:
    """``cunwu serve`` (``wait_for_matcher=False``): WeChat gets the start-up apology and /healthz 503
    until the matcher is built, then real answers."""
    import threading

    from bot.app import MATCHER

    release = threading.Event()

    class Slow:
        @staticmethod
        def factory(session: Any) -> StubMatcher:
            release.wait(10)
            return stub

    app, wx = await make_bot(migrated_url, matcher=Slow, wait_for_matcher=False)
    assert (await wx.client.get("/healthz")).status == 503
    starting = await wx.text("oStarting001", "低保怎么申请")
    assert starting.content == "系统正在启动，请稍后再问。"
    release.set()
    for _ in range(100):
        if app[MATCHER].ready:
            break
        await asyncio.sleep(0.05)
    assert (await wx.client.get("/healthz")).status == 200
    assert (await wx.text("oStarting001", "低保怎么申请")).content == "答：低保怎么申请"
