"""Running push: a worker, the scheduler, or both inside the bot's process (``cunwu serve``).

- :func:`run_worker` — ``cunwu worker [--concurrency N]``: any number of these on PostgreSQL.
- :func:`run_scheduler` — ``cunwu scheduler``: the APScheduler timer plus the tag sync job.
- :func:`start_in_process` — adds the notice page and a ``cleanup_ctx`` that runs the scheduler and one worker
  inside an aiohttp app (the embedded SQLite default), and stops them with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.config import Settings
from core.db import make_async_engine, make_engine
from push.channels.base import Channel, SendContext
from push.channels.loudspeaker import LoudspeakerChannel
from push.channels.official import MassSendChannel, TemplateChannel
from push.channels.robot import RobotChannel
from push.page import notice_routes
from push.scheduler import SweepReport
from push.settings import PushSettings
from push.tags import apply_tags, plan_tags, record_done
from push.timer import Timer
from push.worker import Worker
from wechat.client import client_from_settings
from wechat.token_store import DbTokenStore

log = logging.getLogger(__name__)


def channels() -> dict[str, Channel]:
    return {c.name: c for c in (RobotChannel(), MassSendChannel(), TemplateChannel(), LoudspeakerChannel())}


def push_engine(settings: Settings, concurrency: int = 10) -> Engine:
    """A sync engine sized for the worker's threads."""
    if settings.database_url.startswith("postgresql"):
        # database work is short and mostly batched: a few connections serve many sends in flight
        return make_engine(settings.database_url, pool_size=min(concurrency, 6), max_overflow=4, pool_pre_ping=True)
    return make_engine(settings.database_url)


@contextlib.asynccontextmanager
async def send_context(settings: Settings, engine: Engine) -> AsyncIterator[SendContext]:
    """A ``SendContext`` with its HTTP session and (when configured) the official-account client."""
    async_engine = make_async_engine(settings.database_url)
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as http:
        wechat = None
        if settings.wechat_appid and settings.wechat_secret:
            wechat = client_from_settings(http, settings, DbTokenStore(async_engine))
        try:
            yield SendContext(
                engine=engine,
                settings=PushSettings.from_settings(settings),
                http=http,
                wecom_api_base=settings.wecom_api_base,
                wechat=wechat,
            )
        finally:
            await async_engine.dispose()


async def run_worker(
    settings: Settings, *, concurrency: int = 10, drain: bool = False, stop: asyncio.Event | None = None
) -> int:
    """Run one worker until ``stop`` (or, with ``drain``, until nothing is due); returns rows handled."""
    engine = push_engine(settings, concurrency)
    try:
        async with send_context(settings, engine) as ctx:
            worker = Worker(ctx, channels(), concurrency=concurrency)
            return await worker.run(stop, drain=drain)
    finally:
        engine.dispose()


async def sync_tags(settings: Settings, engine: Engine) -> tuple[int, int]:
    """Bring the platform's village tags in step with bindings; returns (tagged, untagged)."""
    with Session(engine) as session:
        plan = plan_tags(session)
    if plan.empty:
        return 0, 0
    async with send_context(settings, engine) as ctx:
        if ctx.wechat is None:
            return 0, 0
        done = await apply_tags(ctx.wechat, plan)
    with Session(engine) as session, session.begin():
        record_done(session, plan)
    return done


def make_timer(settings: Settings, engine: Engine, now: dt.datetime | None = None) -> Timer:
    async def tags_job() -> None:
        try:
            await sync_tags(settings, engine)
        except Exception:  # logged; the next run tries again
            log.exception("tag sync failed")

    timer = Timer(engine, PushSettings.from_settings(settings), extra_jobs={"tags": (300.0, tags_job)})
    if now is not None:  # a rehearsal at a given time (`cunwu scheduler --once --at`)
        timer.now = lambda: now
    return timer


async def run_scheduler(
    settings: Settings, *, once: bool = False, stop: asyncio.Event | None = None, now: dt.datetime | None = None
) -> SweepReport:
    """Run the scheduler until ``stop``; with ``once``, one catch-up sweep (at ``now``) and return its report."""
    engine = push_engine(settings)
    timer = make_timer(settings, engine, now)
    try:
        if once:
            return await timer.sweep()
        report = await timer.start()
        await (stop or asyncio.Event()).wait()
        return report
    finally:
        await timer.stop()
        engine.dispose()


def start_in_process(app: web.Application, settings: Settings) -> None:
    """Serve ``/n/<id>`` and run the scheduler and one worker inside ``app`` (``cunwu serve``)."""
    engine = push_engine(settings)
    app.router.add_routes(notice_routes(engine))

    async def push_ctx(_app: web.Application) -> AsyncIterator[None]:
        stop = asyncio.Event()
        timer = make_timer(settings, engine)
        await timer.start()
        worker = asyncio.create_task(run_worker(settings, concurrency=4, stop=stop))
        yield
        stop.set()
        await timer.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(worker, timeout=15)
        engine.dispose()

    app.cleanup_ctx.append(push_ctx)


def receipt_handlers() -> dict[str, Any]:
    """Event name → handler, for the bot's ``create_app(events=…)`` in the composition root."""
    from push.receipts import HANDLERS

    return dict(HANDLERS)
