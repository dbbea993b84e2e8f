"""``cunwu chat``: talk to a running bot the way WeChat would, from a terminal."""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import click

from admin_cli.context import CliContext, pass_ctx
from core.errors import ConfigError
from wechat.crypto import Crypto
from wechat.errors import InvalidRequest
from wechat.testing import WeChatSim, build_event_xml, build_text_xml, build_voice_xml

REAL_API_HOSTS = ("api.weixin.qq.com", "api2.weixin.qq.com", "qyapi.weixin.qq.com")
HELP = """输入文字即发送文本消息。命令：
  /voice 文字      发送语音消息（带语音识别结果）
  /subscribe       关注公众号
  /unsubscribe     取消关注
  /click KEY       点击菜单（EventKey=KEY）
  /help            显示本帮助
  /quit            退出"""


@dataclass
class ChatSession:
    url: str
    openid: str
    to_user: str
    token: str
    crypto: Crypto | None
    fake_url: str | None
    wait: float
    cursor: int = 0

    def build(self, line: str) -> str | None:
        """The XML WeChat would post for one input line, or ``None`` for an unknown command."""
        if not line.startswith("/"):
            return build_text_xml(self.to_user, self.openid, line)
        command, _, arg = line.partition(" ")
        arg = arg.strip()
        if command == "/voice" and arg:
            return build_voice_xml(self.to_user, self.openid, arg)
        if command == "/subscribe":
            return build_event_xml(self.to_user, self.openid, "subscribe")
        if command == "/unsubscribe":
            return build_event_xml(self.to_user, self.openid, "unsubscribe")
        if command == "/click" and arg:
            return build_event_xml(self.to_user, self.openid, "CLICK", arg)
        return None

    async def send(self, session: aiohttp.ClientSession, xml: str) -> None:
        sim = WeChatSim(session, self.crypto, self.token, url=self.url, account=self.to_user)
        started = time.monotonic()
        try:
            reply = await sim.post(xml, openid=self.openid, timeout=aiohttp.ClientTimeout(total=10))
        except InvalidRequest as exc:
            click.echo(f"（无法读取被动回复：{exc.message}）")
            return
        except (aiohttp.ClientError, TimeoutError) as exc:
            click.echo(f"（无法连接机器人 {self.url}：{type(exc).__name__}）")
            return
        elapsed = time.monotonic() - started
        if reply.status != 200:
            click.echo(f"（机器人返回 HTTP {reply.status}）")
            return
        passive = reply.fields is not None
        if reply.fields is not None:
            if reply.content is not None:
                click.echo(f"公众号：{reply.content}")
            else:
                click.echo(f"公众号：[{reply.fields.get('MsgType')} 消息]")
        if elapsed > 5:
            click.echo(f"（注意：被动回复用了 {elapsed:.1f} 秒，超过微信的 5 秒限制）")
        await self.poll(session, long=not passive)

    async def fetch_messages(self, session: aiohttp.ClientSession) -> list[dict[str, Any]] | None:
        if not self.fake_url:
            return None
        try:
            async with session.get(
                self.fake_url + "/_fake/messages",
                params={"touser": self.openid, "since": str(self.cursor)},
                timeout=aiohttp.ClientTimeout(total=5),
            ) as resp:
                if resp.status != 200:
                    return None
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None
        return data if isinstance(data, list) else None

    async def start(self, session: aiohttp.ClientSession) -> None:
        """Skip whatever the fake platform recorded before this session started."""
        messages = await self.fetch_messages(session)
        if messages is None and self.fake_url:
            click.echo(f"（连不上假微信平台 {self.fake_url}，不显示客服消息）")
            self.fake_url = None
        for m in messages or []:
            self.cursor = max(self.cursor, int(m.get("seq", 0)))

    async def poll(self, session: aiohttp.ClientSession, *, long: bool) -> None:
        """Print customer-service/template messages to this openid that arrive after the send."""
        if not self.fake_url:
            return
        deadline = time.monotonic() + (self.wait if long else min(self.wait, 0.5))
        quiet_after: float | None = None
        while time.monotonic() < deadline:
            for m in await self.fetch_messages(session) or []:
                self.cursor = max(self.cursor, int(m.get("seq", 0)))
                click.echo(describe(m))
                quiet_after = time.monotonic() + 0.6
            if quiet_after is not None and time.monotonic() > quiet_after:
                break
            await asyncio.sleep(0.15)


def describe(message: dict[str, Any]) -> str:
    """One recorded platform message as the villager would see it."""
    raw_body = message.get("body")
    body: dict[str, Any] = raw_body if isinstance(raw_body, dict) else {}
    api = message.get("api")
    if api == "custom_send" and body.get("msgtype") == "text":
        return f"公众号（客服消息）：{body.get('text', {}).get('content', '')}"
    if api == "template_send":
        fields = body.get("data") or {}
        lines = [f"{k}：{v.get('value', '') if isinstance(v, dict) else v}" for k, v in fields.items()]
        return "公众号（模板消息）：" + "；".join(lines)
    return f"公众号（{api}）：{body.get('msgtype', '')} 消息"


async def _run(chat: ChatSession) -> None:
    stream = sys.stdin
    interactive = stream.isatty()
    async with aiohttp.ClientSession() as session:
        await chat.start(session)
        if interactive:
            click.echo(HELP)
        while True:
            if interactive:
                click.echo("> ", nl=False)
            line = await asyncio.to_thread(stream.readline)
            if not line:
                break
            line = line.strip()
            if not line:
                continue
            if line in {"/quit", "/exit"}:
                break
            if line == "/help":
                click.echo(HELP)
                continue
            xml = chat.build(line)
            if xml is None:
                click.echo("（未知命令，输入 /help 查看帮助）")
                continue
            await chat.send(session, xml)


def _default_fake_url(api_base: str) -> str | None:
    base = api_base.rstrip("/")
    return None if any(host in base for host in REAL_API_HOSTS) else base


@click.command("chat")
@click.option("--url", help="机器人的微信接口地址（默认：设置中的 public_url + /wechat）")
@click.option("--openid", default="o_cunwu_villager", show_default=True, help="扮演的村民 openid")
@click.option("--encrypt", is_flag=True, help="按安全模式加密消息（需要 CUNWU_WECHAT_AES_KEY）")
@click.option("--fake-url", help="假微信平台地址，用于显示之后到达的客服消息（默认：CUNWU_WECHAT_API_BASE）")
@click.option("--to", "to_user", default="gh_cunwu", show_default=True, help="公众号原始 ID（ToUserName）")
@click.option("--wait", default=5.0, show_default=True, type=click.FloatRange(0, 60), help="等待客服消息的秒数")
@pass_ctx
def cli(
    obj: CliContext,
    url: str | None,
    openid: str,
    encrypt: bool,
    fake_url: str | None,
    to_user: str,
    wait: float,
) -> None:
    """扮演村民与机器人对话：像微信一样签名（可加密）发送消息，并显示回复。

    从标准输入逐行读取（可用管道）；输入 /help 查看命令。
    """
    settings = obj.settings
    if not settings.wechat_token:
        raise ConfigError("请先设置 CUNWU_WECHAT_TOKEN（与机器人使用同一个 Token）")
    crypto = None
    if encrypt:
        if not settings.wechat_aes_key:
            raise ConfigError("--encrypt 需要设置 CUNWU_WECHAT_AES_KEY")
        crypto = Crypto(settings.wechat_token, settings.wechat_aes_key, settings.wechat_appid)
    chat = ChatSession(
        url=url or settings.public_url.rstrip("/") + "/wechat",
        openid=openid,
        to_user=to_user,
        token=settings.wechat_token,
        crypto=crypto,
        fake_url=(fake_url.rstrip("/") if fake_url else _default_fake_url(settings.wechat_api_base)),
        wait=wait,
    )
    asyncio.run(_run(chat))
