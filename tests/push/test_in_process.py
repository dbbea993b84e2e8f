"""``cunwu serve``'s push half: the notice page, the scheduler and one worker inside an aiohttp app."""

from __future__ import annotations

import asyncio
import json

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from core.config import load_settings
from push.runtime import start_in_process
from tests.conftest import Cunwu
from tests.push.conftest import FakeServer, sample_notice


async def test_serve_runs_the_page_scheduler_and_a_worker(township: Cunwu, fake: FakeServer) -> None:
    await asyncio.to_thread(township.ok, "notice", "import", str(sample_notice("TZ-2026-035")), "--by", "李文书")
    await asyncio.to_thread(township.ok, "notice", "approve", "TZ-2026-035", "--by", "王审核")
    app = web.Application()
    start_in_process(app, load_settings({"database_url": township.url}))
    server = TestServer(app)
    await server.start_server()
    try:
        await asyncio.to_thread(township.ok, "notice", "send-now", "TZ-2026-035")
        for _ in range(100):  # the in-process worker picks the rows up
            shown = await asyncio.to_thread(township.ok, "notice", "show", "TZ-2026-035", "--json")
            if {d["state"] for d in json.loads(shown.output)["deliveries"]} == {"sent"}:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"not sent: {shown.output}")
        async with aiohttp.ClientSession() as http, http.get(server.make_url("/n/TZ-2026-035")) as resp:
            assert resp.status == 200 and "新寨村召开村民代表会议的通知" in await resp.text()
        history = (await asyncio.to_thread(township.ok, "notice", "show", "TZ-2026-035")).output
        assert "已错过" in history or "missed" in history  # its own 2026-11-24 slot, found by the start-up sweep
    finally:
        await server.close()
    assert [m["api"] for m in fake.platform.messages] == ["webhook_send"]
