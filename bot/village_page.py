"""``GET /v/<code>``: a village's disclosure list as a mobile page (the link in the bot's 我村公开 reply).

Wiring: put an ``async_sessionmaker`` under :data:`SESSIONMAKER` and optionally a clock under
:data:`CLOCK`, then
``app.router.add_get("/v/{code}", village_page)``.
"""

from __future__ import annotations

import re
from html import escape

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock, SystemClock
from core.errors import NotFound
from village_lists.page import village_html

SESSIONMAKER: web.AppKey[async_sessionmaker[AsyncSession]] = web.AppKey("village_page_sessionmaker")
CLOCK: web.AppKey[Clock] = web.AppKey("village_page_clock")
CODE_RE = re.compile(r"^[A-Za-z0-9]{2,16}$")


def _not_found(code: str) -> web.Response:
    body = (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><title>没有找到这个村</title></head>'
        f"<body><p>没有找到编码为 {escape(code)} 的村。请在公众号里发送“绑定 村名”后再查看。</p></body></html>"
    )
    return web.Response(text=body, status=404, content_type="text/html", charset="utf-8")


async def village_page(request: web.Request) -> web.Response:
    code = request.match_info.get("code", "")
    if not CODE_RE.match(code):
        return _not_found(code)
    clock = request.app.get(CLOCK) or SystemClock()
    today = clock.today()
    try:
        async with request.app[SESSIONMAKER]() as session:
            html = await session.run_sync(village_html, code, today)
    except NotFound:
        return _not_found(code)
    return web.Response(
        text=html, content_type="text/html", charset="utf-8", headers={"Cache-Control": "no-cache, max-age=0"}
    )
