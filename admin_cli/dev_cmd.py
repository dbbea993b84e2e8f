"""``cunwu dev``: tools for offline development (the fake WeChat platform)."""

from __future__ import annotations

import click
from aiohttp import web

from admin_cli.context import CliContext, pass_ctx
from wechat.fake_platform import FakeConfig, PathOnlyAccessLogger, create_fake_app


@click.group("dev")
def cli() -> None:
    """开发与测试工具。"""


@cli.command("fake-wechat")
@click.option("--host", default="127.0.0.1", show_default=True, help="监听地址")
@click.option("--port", default=8081, show_default=True, type=click.IntRange(0, 65535), help="监听端口")
@click.option(
    "--latency-ms", default=0, show_default=True, type=click.IntRange(0, 60_000), help="每次调用的延迟（毫秒）"
)
@click.option(
    "--token-ttl", default=7200, show_default=True, type=click.IntRange(1, 86_400), help="access_token 有效期（秒）"
)
@pass_ctx
def fake_wechat_cmd(obj: CliContext, host: str, port: int, latency_ms: int, token_ttl: int) -> None:
    """运行假的微信公众平台与企业微信群机器人接口（供开发与测试）。

    appid 与 AppSecret 取自设置（CUNWU_WECHAT_APPID / CUNWU_WECHAT_SECRET），未设置时用
    wx_fake_appid / fake_app_secret。把 CUNWU_WECHAT_API_BASE 与 CUNWU_WECOM_API_BASE 设为
    http://HOST:PORT 即可让服务连到这里。收到的消息：GET /_fake/messages；注入故障：POST /_fake/faults。
    """
    defaults = FakeConfig()
    config = FakeConfig(
        appid=obj.settings.wechat_appid or defaults.appid,
        secret=obj.settings.wechat_secret or defaults.secret,
        latency_ms=latency_ms,
        token_ttl=token_ttl,
    )
    click.echo(f"假微信平台：http://{host}:{port}（appid={config.appid}）")
    web.run_app(create_fake_app(config), host=host, port=port, print=click.echo, access_log_class=PathOnlyAccessLogger)
