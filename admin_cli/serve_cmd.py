"""``cunwu serve``: run the bot (WeChat endpoint, JSON API, village pages) with aiohttp.

This module is the composition root: push's notice page, scheduler and one delivery worker join the
bot's process, and push's receipt handlers join the bot's event handlers.
"""

from __future__ import annotations

import logging

import click
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from sqlalchemy.engine import make_url

from admin_cli.context import CliContext, pass_ctx
from bot.app import create_app, new_event_loop, quiet_malformed_http
from bot.dialogue import EventHandler
from core.schema import ensure_current
from push.runtime import receipt_handlers, start_in_process

log = logging.getLogger("cunwu.serve")


class PathAccessLogger(AbstractAccessLogger):
    """Access log lines without the query string (it carries openids and signatures)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %s %.1fms", request.method, request.path, response.status, time * 1000)


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(invalid database URL)"


def event_handlers() -> dict[str, EventHandler]:
    """Other packages' handlers of the events WeChat posts to the bot: push's delivery receipts
    (``MASSSENDJOBFINISH``, ``TEMPLATESENDJOBFINISH``). The bot has its own (subscribe, unsubscribe, click)."""
    return receipt_handlers()


@click.command("serve")
@click.option("--host", help="监听地址（默认取设置 CUNWU_HOST）")
@click.option("--port", type=click.IntRange(0, 65535), help="监听端口（默认取设置 CUNWU_PORT）")
@pass_ctx
def cli(obj: CliContext, host: str | None, port: int | None) -> None:
    """运行公众号机器人、JSON 接口与村务公开页面。"""
    settings = obj.settings.replace(
        host=host or obj.settings.host, port=port if port is not None else obj.settings.port
    )
    if settings.production and not settings.secret_key:
        raise click.UsageError("未设置 CUNWU_SECRET_KEY：生产环境（真实微信接口）下拒绝启动，机器人密钥无法加密保存。")
    ensure_current(obj.engine)
    obj.close()  # the app makes its own engines
    level = logging.DEBUG if obj.verbose else getattr(logging, settings.log_level.upper(), logging.INFO)
    logging.getLogger().setLevel(level)
    quiet_malformed_http()
    if not settings.wechat_token:
        log.warning("CUNWU_WECHAT_TOKEN is not set: every POST /wechat will be refused (403)")
    log.info(
        "cunwu serve on http://%s:%s (database %s, %s mode)",
        settings.host,
        settings.port,
        _safe_url(settings.database_url),
        "safe" if settings.safe_mode else "plain",
    )
    app = create_app(settings, events=event_handlers(), wait_for_matcher=False)  # the port opens at once
    start_in_process(app, settings)  # push: the notice page /n/<id>, the scheduler and one worker
    loop = new_event_loop()
    log.debug("event loop: %s", type(loop).__module__)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        print=None,
        access_log_class=PathAccessLogger,
        access_log=logging.getLogger("cunwu.access"),
        shutdown_timeout=10.0,
        loop=loop,
    )
