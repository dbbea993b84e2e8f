"""The notice page ``GET /n/<id>``: served by a real aiohttp server, rendered by headless Chromium when present.

A 社会救助公示 carrying personal names shows only its summary there, never the list."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy.orm import Session, sessionmaker

from push.page import LIST_WITHHELD, notice_routes
from tests.conftest import Cunwu
from tests.push.conftest import free_port, sample_notice
from tests.village_lists.test_page_chromium import CHROMIUM, _chromium, _png_size

NAMES = ("张*华", "李*芬", "杨*贵", "鲁*明", "何*芳", "沈*平")


@pytest.fixture
def published(township: Cunwu) -> Cunwu:
    for notice_id in ("TZ-2026-028", "TZ-2026-030", "TZ-2026-037"):
        township.ok("notice", "import", str(sample_notice(notice_id)), "--by", "李文书")
        township.ok("notice", "approve", notice_id, "--by", "王审核")
    township.ok("notice", "import", str(sample_notice("TZ-2026-035")), "--by", "李文书")  # a draft
    return township


@pytest.fixture
async def served(published: Cunwu, session_factory: sessionmaker[Session]) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_routes(notice_routes(session_factory.kw["bind"]))
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def get(url: str) -> tuple[int, str]:
    import aiohttp

    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return resp.status, await resp.text()


async def test_page_shows_title_date_tables_period_and_contacts(served: str) -> None:
    status, html = await get(f"{served}/n/TZ-2026-028")
    assert status == 200
    assert "<h1>清河镇2026年耕地地力保护补贴面积及金额公示</h1>" in html and "2026年11月25日" in html
    assert "<th>补贴面积（亩）</th>" in html and "<td>452,948.60</td>" in html
    assert "公示期：2026年11月25日至2026年12月3日（7 个工作日）" in html
    assert 'href="tel:0883-6712048"' in html and 'name="viewport"' in html


async def test_person_lists_are_never_on_the_page(served: str) -> None:
    for notice_id in ("TZ-2026-030", "TZ-2026-037"):
        status, html = await get(f"{served}/n/{notice_id}")
        assert status == 200 and LIST_WITHHELD in html
        assert not any(name in html for name in NAMES) and "<table" not in html
        assert "0883-6712035" in html  # the office to call is public


async def test_drafts_and_unknown_ids_are_not_found(served: str) -> None:
    for notice_id in ("TZ-2026-035", "TZ-2026-999", "..%2Fetc"):
        status, html = await get(f"{served}/n/{notice_id}")
        assert status == 404 and "没有找到" in html


@pytest.mark.chromium
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install chromium) for the page test")
async def test_notice_page_in_headless_chromium(served: str, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    code, _ = await _chromium(tmp_path, f"--screenshot={shot}", f"{served}/n/TZ-2026-028")
    assert code == 0 and shot.stat().st_size > 10_000 and _png_size(shot) == (390, 844)
    code, dom = await _chromium(tmp_path, "--dump-dom", f"{served}/n/TZ-2026-030")
    assert code == 0 and "新寨村最低生活保障审核确认结果公示" in dom and LIST_WITHHELD in dom
    assert not any(name in dom for name in NAMES)
