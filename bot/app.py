"""The bot's aiohttp application: ``create_app(settings)``.

Routes: ``GET|POST /wechat`` (the official account's server URL), ``GET /api/ask``,
``GET /healthz`` and ``GET /v/<code>`` (a village's disclosure page).

Shared objects live under typed :class:`aiohttp.web.AppKey` s. Nothing here does I/O before the
app starts: the database engines, the HTTP client session and the WeChat API client, the
matcher build (in a worker thread) and the periodic content check, the question-log flusher
and the late-answer tasks all start and stop in ``cleanup_ctx``.
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
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import village_page
from bot.api import ApiHandlers
from bot.db import SyncDb
from bot.dedupe import Deduper
from bot.dialogue import Dialogue, sender_village
from bot.endpoint import BackgroundTasks, WeChatEndpoint
from bot.matcher_process import ProcessMatcherFactory
from bot.matching import MatcherFactory, MatcherHolder, default_matcher_factory
from bot.question_log import QuestionLogger
from bot.registry import EventRegistry
from core.clock import Clock, SystemClock
from core.config import Settings
from core.db import make_async_engine, make_async_sessionmaker, make_engine, utcnow
from wechat.client import WeChatClient
from wechat.messages import MAX_XML_BYTES, make_crypto
from wechat.token_store import DbTokenStore, TokenStore

log = logging.getLogger(__name__)

SETTINGS: web.AppKey[Settings] = web.AppKey("cunwu_settings", Settings)
ENGINE: web.AppKey[AsyncEngine] = web.AppKey("cunwu_engine", AsyncEngine)
SYNC_ENGINE: web.AppKey[Engine] = web.AppKey("cunwu_sync_engine", Engine)
DB: web.AppKey[SyncDb] = web.AppKey("cunwu_db", SyncDb)
SESSIONMAKER: web.AppKey[async_sessionmaker[AsyncSession]] = web.AppKey("cunwu_sessionmaker")
MATCHER: web.AppKey[MatcherHolder] = web.AppKey("cunwu_matcher", MatcherHolder)
QUESTION_LOG: web.AppKey[QuestionLogger] = web.AppKey("cunwu_question_log", QuestionLogger)
DEDUPER: web.AppKey[Deduper] = web.AppKey("cunwu_deduper", Deduper)
REGISTRY: web.AppKey[EventRegistry] = web.AppKey("cunwu_event_registry", EventRegistry)
ENDPOINT: web.AppKey[WeChatEndpoint] = web.AppKey("cunwu_wechat_endpoint", WeChatEndpoint)
TASKS: web.AppKey[BackgroundTasks] = web.AppKey("cunwu_background_tasks", BackgroundTasks)
HTTP: web.AppKey[aiohttp.ClientSession] = web.AppKey("cunwu_http", aiohttp.ClientSession)
WECHAT: web.AppKey[WeChatClient] = web.AppKey("cunwu_wechat_client", WeChatClient)
TOKEN_STORE: web.AppKey[TokenStore] = web.AppKey("cunwu_token_store")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """The event loop ``cunwu serve`` runs on: uvloop where it is installed (a dependency on Linux and
    macOS; it takes about a tenth off the endpoint's CPU per request), else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


DEDUPE_KEEP = dt.timedelta(days=2)
"""Inbound message rows older than this are pruned (WeChat stops retrying after ~15 s)."""
PRUNE_EVERY = 3600.0


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    matcher_factory: MatcherFactory | None = None,
    registry: EventRegistry | None = None,
    token_store: TokenStore | None = None,
    refresh_interval: float = 5.0,
    timestamp_window: float | None = 300.0,
    log_flush_interval: float = 0.5,
    wechat_timeout: float = 10.0,
    wechat_max_retries: int = 3,
    answer_cache_size: int = 2048,
) -> web.Application:
    """The bot app. ``registry`` may already hold other packages' event handlers (push receipts)."""
    clock = clock or SystemClock()
    app = web.Application(client_max_size=MAX_XML_BYTES + 1024)
    engine = make_async_engine(settings.database_url, **_pool_options(settings.database_url))
    sync_engine = make_engine(settings.database_url)
    sessionmaker = make_async_sessionmaker(engine)
    db = SyncDb(sync_engine)
    if matcher_factory is None:
        workers = settings.matcher_processes
        matcher_factory = (
            ProcessMatcherFactory(settings.database_url, workers=workers) if workers > 0 else default_matcher_factory
        )
    holder = MatcherHolder(matcher_factory, db.sessionmaker, cache_size=answer_cache_size)
    question_log = QuestionLogger(db, interval=log_flush_interval)
    deduper = Deduper(db, also_return=sender_village(), claim_timeout=settings.reply_budget_seconds)
    registry = registry if registry is not None else EventRegistry()
    tasks = BackgroundTasks()
    dialogue = Dialogue(
        db,
        holder,
        question_log,
        clock=clock,
        public_url=settings.public_url,
        service_phone=settings.service_phone,
    )
    dialogue.register_events(registry)  # a handler registered by the composition root wins

    async def send_text(openid: str, text: str) -> None:
        client = app.get(WECHAT)
        if client is None:
            from wechat.errors import PlatformUnavailable

            raise PlatformUnavailable("未设置 CUNWU_WECHAT_APPID / CUNWU_WECHAT_SECRET，无法发送客服消息")
        await client.send_custom_text(openid, text)

    endpoint = WeChatEndpoint(
        token=settings.wechat_token,
        crypto=make_crypto(settings.wechat_token, settings.wechat_aes_key, settings.wechat_appid),
        dialogue=dialogue,
        registry=registry,
        deduper=deduper,
        sessionmaker=sessionmaker,
        send_text=send_text,
        tasks=tasks,
        clock=clock,
        budget=settings.reply_budget_seconds,
        timestamp_window=timestamp_window,
    )
    api = ApiHandlers(
        db,
        holder,
        question_log,
        stats=lambda: {
            "wechat": endpoint.stats.to_dict(),
            "database_writes": db.stats(),
            "background_tasks": len(tasks),
        },
    )

    app[SETTINGS] = settings
    app[ENGINE] = engine
    app[SYNC_ENGINE] = sync_engine
    app[DB] = db
    app[SESSIONMAKER] = sessionmaker
    app[MATCHER] = holder
    app[QUESTION_LOG] = question_log
    app[DEDUPER] = deduper
    app[REGISTRY] = registry
    app[ENDPOINT] = endpoint
    app[TASKS] = tasks
    app[village_page.SESSIONMAKER] = sessionmaker
    app[village_page.CLOCK] = clock

    app.router.add_get("/wechat", endpoint.verify)
    app.router.add_post("/wechat", endpoint.receive)
    app.router.add_get("/api/ask", api.ask)
    app.router.add_get("/healthz", api.healthz)
    app.router.add_get("/v/{code}", village_page.village_page)

    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_wechat_client(token_store, wechat_timeout, wechat_max_retries))
    app.cleanup_ctx.append(_matcher(refresh_interval))
    app.cleanup_ctx.append(_writers)
    app.cleanup_ctx.append(_background_tasks)
    return app


def _pool_options(url: str) -> dict[str, Any]:
    """SQLite allows one writer at a time: one pooled connection serialises our writes in-process
    (no busy-wait sleeps between this process's own requests); PostgreSQL gets a normal pool."""
    if make_url(url).get_backend_name() == "sqlite":
        return {"pool_size": 1, "max_overflow": 0, "pool_timeout": 30}
    return {"pool_size": 10, "max_overflow": 10}


async def _database(app: web.Application) -> AsyncIterator[None]:
    """The engines were made in ``create_app`` (no connection yet); disposed at shutdown."""
    try:
        yield
    finally:
        await app[ENGINE].dispose()
        await asyncio.to_thread(app[DB].close)


def _wechat_client(store: TokenStore | None, timeout: float, max_retries: int) -> Any:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout + 5))
        app[HTTP] = session
        token_store = store if store is not None else DbTokenStore(app[ENGINE])
        app[TOKEN_STORE] = token_store
        if settings.wechat_appid and settings.wechat_secret:
            app[WECHAT] = WeChatClient(
                session,
                settings.wechat_appid,
                settings.wechat_secret,
                settings.wechat_api_base,
                token_store,
                timeout=timeout,
                max_retries=max_retries,
            )
        else:
            log.warning("CUNWU_WECHAT_APPID/SECRET not set: late answers cannot be sent as customer-service messages")
        try:
            yield
        finally:
            await session.close()

    return ctx


def _matcher(refresh_interval: float) -> Any:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        holder = app[MATCHER]
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await asyncio.to_thread(holder.build)
            log.info("matcher ready in %.1f s", loop.time() - started)
        except Exception as exc:  # keep serving (commands work); the refresh loop retries the build
            holder.last_error = type(exc).__name__
            log.exception("building the matcher failed; questions are answered once a rebuild succeeds")
        task = loop.create_task(_refresh_loop(app, refresh_interval))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await asyncio.to_thread(holder.close)

    return ctx


async def _refresh_loop(app: web.Application, interval: float) -> None:
    holder = app[MATCHER]
    deduper = app[DEDUPER]
    loop = asyncio.get_running_loop()
    next_prune = loop.time()
    while True:
        await asyncio.sleep(interval)
        try:
            if await asyncio.to_thread(holder.refresh):
                log.info("content changed: matcher rebuilt")
        except Exception as exc:
            holder.last_error = type(exc).__name__
            log.exception("matcher refresh failed")
        if loop.time() >= next_prune:
            next_prune = loop.time() + PRUNE_EVERY
            try:
                await deduper.prune(utcnow() - DEDUPE_KEEP)
            except Exception:
                log.warning("pruning old inbound messages failed", exc_info=True)


async def _writers(app: web.Application) -> AsyncIterator[None]:
    """The write-behind loops: answers for other processes' retries, the question log, and the WAL
    checkpoints of what the event loop wrote (SQLite; :meth:`bot.db.SyncDb.run`)."""
    writers: list[Any] = [app[DEDUPER], app[QUESTION_LOG], app[DB]]
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(w.run()) for w in writers]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for writer in writers:
            await writer.flush()


async def _background_tasks(app: web.Application) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await app[TASKS].close()
