"""The bot's aiohttp application: ``create_app(settings)``.

Routes: ``GET|POST /wechat`` (the official account's server URL), ``GET /api/ask``,
``GET /healthz`` and ``GET /v/<code>`` (a village's disclosure page).

One database route each way: reads through the AsyncEngine (a pool with health checks on
PostgreSQL), writes through the one :class:`~bot.writer.Writer`. Shared objects live under typed
:class:`aiohttp.web.AppKey` s. Nothing here does I/O before the app starts: the writer, the HTTP
client session and the WeChat API client, the matcher build and the periodic content check, and the
late-answer tasks all start and stop in ``cleanup_ctx``; the writer, stopping last, writes what is queued.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import village_page
from bot.api import ApiHandlers
from bot.conversation import Conversation
from bot.dialogue import Dialogue, EventHandler
from bot.endpoint import WeChatEndpoint
from bot.matcher_process import ProcessMatcherFactory
from bot.matching import MatcherFactory, MatcherHolder, default_matcher_factory
from bot.privacy import OpenidHasher, load_or_create_key
from bot.question_log import QuestionLogger
from bot.writer import Writer
from core.clock import Clock, SystemClock
from core.config import Settings
from core.db import make_async_engine, make_engine, make_sessionmaker, utcnow
from wechat.client import WeChatClient, client_from_settings
from wechat.crypto import make_crypto
from wechat.errors import PlatformUnavailable
from wechat.token_store import DbTokenStore, TokenStore
from wechat.xml import MAX_XML_BYTES

log = logging.getLogger(__name__)

SETTINGS: web.AppKey[Settings] = web.AppKey("cunwu_settings", Settings)
ENGINE: web.AppKey[AsyncEngine] = web.AppKey("cunwu_engine", AsyncEngine)
WRITER: web.AppKey[Writer] = web.AppKey("cunwu_writer", Writer)
HASHER: web.AppKey[OpenidHasher] = web.AppKey("cunwu_openid_hasher", OpenidHasher)
MATCHER: web.AppKey[MatcherHolder] = web.AppKey("cunwu_matcher", MatcherHolder)
QUESTION_LOG: web.AppKey[QuestionLogger] = web.AppKey("cunwu_question_log", QuestionLogger)
CONVERSATION: web.AppKey[Conversation] = web.AppKey("cunwu_conversation", Conversation)
ENDPOINT: web.AppKey[WeChatEndpoint] = web.AppKey("cunwu_wechat_endpoint", WeChatEndpoint)
HTTP: web.AppKey[aiohttp.ClientSession] = web.AppKey("cunwu_http", aiohttp.ClientSession)
WECHAT: web.AppKey[WeChatClient] = web.AppKey("cunwu_wechat_client", WeChatClient)

DEDUPE_KEEP = dt.timedelta(days=2)
"""Inbound message rows older than this are pruned (WeChat stops retrying after ~15 s)."""
PRUNE_EVERY = 3600.0


def new_event_loop() -> asyncio.AbstractEventLoop:
    """The event loop ``cunwu serve`` runs on: uvloop where it is installed (a dependency on Linux and
    macOS), else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}


@web.middleware
async def security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every HTML page (the village pages, and any page added later) carries :data:`SECURITY_HEADERS`."""
    response: web.StreamResponse = await handler(request)
    if response.content_type == "text/html":
        response.headers.update(SECURITY_HEADERS)
    return response


def _no_result_rows(record: logging.LogRecord) -> bool:
    """SQLAlchemy logs result rows at DEBUG (an access token read back, openids); the statements stay."""
    return not (isinstance(record.msg, str) and record.msg.startswith(("Row ", "Col ")))


def _malformed_http_in_one_line(record: logging.LogRecord) -> bool:
    """aiohttp logs a request it cannot parse with a traceback; one INFO line says all there is to say."""
    exc = record.exc_info[1] if record.exc_info else None
    if isinstance(exc, HttpProcessingError) and (exc.code or 400) < 500:
        record.msg, record.args = "malformed HTTP request refused (%s %s)", (exc.code, type(exc).__name__)
        record.levelno, record.levelname = logging.INFO, "INFO"
        record.exc_info, record.exc_text = None, None
    return True


def _keep_secrets_out_of_logs() -> None:
    """At DEBUG nothing the bot reads or writes reaches the logs: statements are logged without their
    parameters (``hide_parameters``, :mod:`core.db`'s default), result rows not at all, and
    aiosqlite's own DEBUG lines (every statement with its parameters) are off."""
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    logging.getLogger("sqlalchemy.engine.Engine").addFilter(_no_result_rows)


def quiet_malformed_http() -> None:
    """A request aiohttp's server cannot parse is logged as one INFO line, without a traceback."""
    logging.getLogger("aiohttp.server").addFilter(_malformed_http_in_one_line)


def _engine_options(url: str) -> dict[str, Any]:
    """PostgreSQL gets a real pool, each connection checked before use (``pool_pre_ping``)."""
    if make_url(url).get_backend_name() == "sqlite":
        return {}
    return {"pool_size": 10, "max_overflow": 10, "pool_pre_ping": True, "pool_recycle": 1800}


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    matcher_factory: MatcherFactory | None = None,
    events: Mapping[str, EventHandler] | None = None,
    token_store: TokenStore | None = None,
    refresh_interval: float = 5.0,
    timestamp_window: float | None = 300.0,
    wechat_timeout: float = 10.0,
    wechat_max_retries: int = 3,
    answer_cache_size: int = 2048,
    wait_for_matcher: bool = True,
) -> web.Application:
    """The bot app. ``events``: other packages' event handlers by event name (push's receipts).
    ``wait_for_matcher=False`` (``cunwu serve``): accept connections at once and build the matcher
    meanwhile (questions get the "系统正在更新资料" reply, ``/healthz`` 503, until it is ready)."""
    clock = clock or SystemClock()
    _keep_secrets_out_of_logs()
    app = web.Application(client_max_size=MAX_XML_BYTES, middlewares=[security_headers])
    engine = make_async_engine(settings.database_url, **_engine_options(settings.database_url))
    sync_engine = make_engine(settings.database_url, **_engine_options(settings.database_url))
    writer = Writer(sync_engine)
    if matcher_factory is None:
        workers = settings.matcher_processes
        matcher_factory = (
            ProcessMatcherFactory(settings.database_url, workers=workers) if workers > 0 else default_matcher_factory
        )
    holder = MatcherHolder(matcher_factory, make_sessionmaker(sync_engine), cache_size=answer_cache_size)
    hasher = OpenidHasher()  # its key is read (or made) when the app starts
    question_log = QuestionLogger(writer, hasher)
    dialogue = Dialogue(
        engine,
        writer,
        holder,
        question_log,
        clock=clock,
        public_url=settings.public_url,
        service_phone=settings.service_phone,
        events=events,
    )

    async def send_text(openid: str, text: str) -> None:
        client = app.get(WECHAT)
        if client is None:
            raise PlatformUnavailable("未设置 CUNWU_WECHAT_APPID / CUNWU_WECHAT_SECRET，无法发送客服消息")
        await client.send_custom_text(openid, text)

    conversation = Conversation(
        writer=writer,
        engine=engine,
        dialogue=dialogue,
        send_text=send_text,
        sender_key=hasher,
        budget=settings.reply_budget_seconds,
    )
    endpoint = WeChatEndpoint(
        token=settings.wechat_token,
        crypto=make_crypto(settings.wechat_token, settings.wechat_aes_key, settings.wechat_appid),
        conversation=conversation,
        timestamp_window=timestamp_window,
    )
    api = ApiHandlers(
        engine,
        holder,
        question_log,
        conversation,
        rate_per_minute=settings.api_rate_per_minute,
        token=settings.api_token,
    )

    app[SETTINGS] = settings
    app[ENGINE] = engine
    app[WRITER] = writer
    app[HASHER] = hasher
    app[MATCHER] = holder
    app[QUESTION_LOG] = question_log
    app[CONVERSATION] = conversation
    app[ENDPOINT] = endpoint
    app[village_page.SESSIONMAKER] = dialogue.sessionmaker
    app[village_page.CLOCK] = clock

    app.router.add_get("/wechat", endpoint.verify)
    app.router.add_post("/wechat", endpoint.receive)
    app.router.add_get("/api/ask", api.ask)
    app.router.add_get("/healthz", api.healthz)
    app.router.add_get("/v/{code}", village_page.village_page)

    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(
        functools.partial(_wechat_client, store=token_store, timeout=wechat_timeout, max_retries=wechat_max_retries)
    )
    app.cleanup_ctx.append(functools.partial(_matcher, refresh_interval=refresh_interval, wait=wait_for_matcher))
    app.cleanup_ctx.append(_background_tasks)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    """The writer's thread starts and the openid key is read; at shutdown the writer writes what is
    queued, and the engines are disposed."""
    writer = app[WRITER]
    writer.start()
    app[HASHER].key = await writer.submit(load_or_create_key)
    try:
        yield
    finally:
        await asyncio.to_thread(writer.stop)
        writer.engine.dispose()
        await app[ENGINE].dispose()


async def _wechat_client(
    app: web.Application, *, store: TokenStore | None, timeout: float, max_retries: int
) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout + 5))
    app[HTTP] = session
    token_store = store if store is not None else DbTokenStore(app[ENGINE])
    if settings.wechat_appid and settings.wechat_secret:
        app[WECHAT] = client_from_settings(session, settings, token_store, timeout=timeout, max_retries=max_retries)
    else:
        log.warning("CUNWU_WECHAT_APPID/SECRET not set: late answers cannot be sent as customer-service messages")
    try:
        yield
    finally:
        await session.close()


async def _matcher(app: web.Application, *, refresh_interval: float, wait: bool) -> AsyncIterator[None]:
    """The matcher is built (before the port opens, when ``wait``), then kept current."""
    if wait:
        await _build(app[MATCHER])
    task = asyncio.get_running_loop().create_task(_keep_current(app, refresh_interval, build=not wait))
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.to_thread(app[MATCHER].close)


async def _build(holder: MatcherHolder) -> None:
    started = asyncio.get_running_loop().time()
    try:
        await asyncio.to_thread(holder.build)
        log.info("matcher ready in %.1f s", asyncio.get_running_loop().time() - started)
    except Exception:  # keep serving (commands work); the next round tries again
        log.exception("building the matcher failed; questions are answered once a rebuild succeeds")


async def _keep_current(app: web.Application, interval: float, *, build: bool) -> None:
    """Build the matcher first when ``build``; then every ``interval`` seconds rebuild it when the content
    changed (or when no build succeeded yet), and every hour prune old inbound messages."""
    holder = app[MATCHER]
    if build:
        await _build(holder)
    loop = asyncio.get_running_loop()
    next_prune = loop.time()
    while True:
        await asyncio.sleep(interval)
        try:
            if await asyncio.to_thread(holder.refresh):
                log.info("content changed: matcher rebuilt")
        except Exception as exc:
            log.warning("matcher refresh failed (%s)", type(exc).__name__)
        if loop.time() >= next_prune:
            next_prune = loop.time() + PRUNE_EVERY
            try:
                await app[CONVERSATION].prune(utcnow() - DEDUPE_KEEP)
            except Exception:
                log.warning("pruning old inbound messages failed", exc_info=True)


async def _background_tasks(app: web.Application) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await app[CONVERSATION].close()
