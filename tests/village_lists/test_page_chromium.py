"""The village page ``GET /v/<code>``: served by a real aiohttp server, rendered by headless Chromium."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import socket
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, sessionmaker

from bot.village_page import CLOCK, SESSIONMAKER, village_page
from core.clock import FixedClock
from core.db import make_async_engine, make_async_sessionmaker
from tests.conftest import Cunwu
from village_lists.checker import check_village
from village_lists.page import render_village_page
from village_lists.repository import get_village, list_rows

TODAY = dt.date(2026, 11, 21)
CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser")) if p), None)


@pytest.fixture
def sample(cunwu: Cunwu, session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    cunwu.ok("load-sample")
    return session_factory


def _app(factory: async_sessionmaker[AsyncSession]) -> web.Application:
    app = web.Application()
    app[SESSIONMAKER] = factory
    app[CLOCK] = FixedClock(TODAY)
    app.router.add_get("/v/{code}", village_page)
    return app


def test_render_village_page(sample: sessionmaker[Session]) -> None:
    with sample() as session:
        village = get_village(session, "QH05")
        html = render_village_page(village, list_rows(session, "QH05"), check_village(session, "QH05", TODAY), TODAY)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "大坪村村务公开" in html and "2026年11月21日" in html
    assert html.count('<li class="overdue"') == 2  # rows 2 and 9
    assert '<li class="overdue" id="row-9">' in html and "2026年6月28日" in html
    assert "内容缺项" not in html and "编码不存在" not in html  # staff findings stay off the villagers' page


async def test_handler_with_async_sessionmaker_and_404(cunwu: Cunwu, migrated_url: str) -> None:
    cunwu.ok("load-sample")
    engine = make_async_engine(migrated_url)
    try:
        client = TestClient(TestServer(_app(make_async_sessionmaker(engine))))
        await client.start_server()
        try:
            ok = await client.get("/v/qh03")
            assert ok.status == 200 and ok.content_type == "text/html"
            assert "芒洪村村务公开" in await ok.text()
            for bad in ("QH99", "..%2Fetc"):
                missing = await client.get(f"/v/{bad}")
                assert missing.status == 404 and "没有找到" in await missing.text()
        finally:
            await client.close()
    finally:
        await engine.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def served(sample: sessionmaker[Session], migrated_url: str) -> AsyncIterator[str]:
    engine = make_async_engine(migrated_url)
    runner = web.AppRunner(_app(make_async_sessionmaker(engine)))
    await runner.setup()
    port = _free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
        await engine.dispose()


async def _chromium(tmp_path: Path, *args: str) -> tuple[int, str]:
    assert CHROMIUM is not None
    proc = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=390,844",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=tmp_path,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=90)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode or 0, out.decode("utf-8", "replace")


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.chromium
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install chromium) for the page test")
async def test_page_in_headless_chromium(served: str, tmp_path: Path) -> None:
    url = f"{served}/v/QH03"
    shot = tmp_path / "shot.png"
    code, _ = await _chromium(tmp_path, f"--screenshot={shot}", url)
    assert code == 0 and shot.exists()
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one
    assert _png_size(shot) == (390, 844)
    code, dom = await _chromium(tmp_path, "--dump-dom", url)
    assert code == 0
    assert "芒洪村村务公开" in dom and "高龄津贴发放名单公示" in dom
    assert '<li class="overdue" id="row-13">' in dom and "逾期未公开" in dom
    assert dom.count('<li id="row-') + dom.count('<li class="overdue" id="row-') == 32
    assert '<a href="#row-13">高龄津贴发放名单公示</a>' in dom
