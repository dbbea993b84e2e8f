"""``cunwu chat`` against a small bot built on the wechat helpers, and the fake platform."""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web
from click.testing import CliRunner

from admin_cli.main import cli
from wechat.client import WeChatClient
from wechat.crypto import make_crypto
from wechat.errors import InvalidRequest
from wechat.fake_platform import FakeConfig, FakePlatform
from wechat.messages import open_request, render_text_reply, seal_reply
from wechat.signature import check_signature
from wechat.token_store import MemoryTokenStore

TOKEN = "chat_token"
APPID = "wx_chat"
SECRET = "chat_secret"
AES_KEY = base64.b64encode(bytes(range(100, 132))).decode().rstrip("=")


def make_bot(api_base: str, aes_key: str) -> web.Application:
    """A minimal bot: echoes text, answers events, and sends '稍后' answers via customer service."""
    crypto = make_crypto(TOKEN, aes_key, APPID)
    tasks: set[asyncio.Task[None]] = set()

    async def handle(request: web.Request) -> web.Response:
        try:
            query = request.query
            check_signature(TOKEN, query.get("signature"), query.get("timestamp"), query.get("nonce"))
            msg = open_request(query, await request.read(), crypto=crypto)
        except InvalidRequest:
            return web.Response(text="success")
        if msg.text == "稍后":

            async def later() -> None:
                async with aiohttp.ClientSession() as session:
                    client = WeChatClient(session, APPID, SECRET, api_base, MemoryTokenStore())
                    await asyncio.sleep(0.3)
                    await client.send_custom_text(msg.from_user, "这是稍后的客服消息")

            task = asyncio.create_task(later())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            return web.Response(text="success")
        answer = f"事件：{msg.event} {msg.event_key}".strip() if msg.msg_type == "event" else f"你说：{msg.text}"
        reply = render_text_reply(msg.from_user, msg.to_user, answer)
        body = seal_reply(reply, crypto=crypto, nonce=request.query["nonce"])
        return web.Response(text=body, content_type="application/xml")

    app = web.Application()
    app.router.add_post("/wechat", handle)
    return app


@dataclass
class Servers:
    bot_url: str
    fake_url: str
    platform: FakePlatform
    mode: str


@pytest.fixture(params=["plain", "aes"])
def servers(request: pytest.FixtureRequest) -> Iterator[Servers]:
    """The fake platform and the bot, served from a background thread (the CLI runs its own loop)."""
    aes_key = AES_KEY if request.param == "aes" else ""
    platform = FakePlatform(FakeConfig(appid=APPID, secret=SECRET))
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    urls: list[str] = []
    runners: list[web.AppRunner] = []

    async def start() -> None:
        fake_runner = web.AppRunner(platform.make_app())
        await fake_runner.setup()
        fake_site = web.TCPSite(fake_runner, "127.0.0.1", 0)
        await fake_site.start()
        fake_port = fake_runner.addresses[0][1]
        fake_url = f"http://127.0.0.1:{fake_port}"
        bot_runner = web.AppRunner(make_bot(fake_url, aes_key))
        await bot_runner.setup()
        await web.TCPSite(bot_runner, "127.0.0.1", 0).start()
        runners.extend([fake_runner, bot_runner])
        urls.extend([f"http://127.0.0.1:{bot_runner.addresses[0][1]}/wechat", fake_url])

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield Servers(bot_url=urls[0], fake_url=urls[1], platform=platform, mode=request.param)
    finally:

        async def stop() -> None:
            for runner in runners:
                await runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def chat(servers: Servers, lines: str, *extra: str) -> str:
    env = {
        "CUNWU_WECHAT_TOKEN": TOKEN,
        "CUNWU_WECHAT_APPID": APPID,
        "CUNWU_WECHAT_AES_KEY": AES_KEY,
        "CUNWU_WECHAT_API_BASE": servers.fake_url,
    }
    args = ["chat", "--url", servers.bot_url, "--openid", "o_tester", "--wait", "3", *extra]
    result = CliRunner().invoke(cli, args, input=lines, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_chat_round_trip(servers: Servers) -> None:
    encrypt = ["--encrypt"] if servers.mode == "aes" else []
    out = chat(servers, "低保怎么申请\n/voice 医保缴费\n/subscribe\n/click MENU_POLICY\n/bogus\n稍后\n", *encrypt)
    assert "公众号：你说：低保怎么申请" in out
    assert "公众号：你说：医保缴费" in out
    assert "公众号：事件：subscribe" in out
    assert "公众号：事件：click MENU_POLICY" in out
    assert "未知命令" in out
    assert "公众号（客服消息）：这是稍后的客服消息" in out
    assert [m["body"]["touser"] for m in servers.platform.messages] == ["o_tester"]


def test_chat_mode_mismatch_is_reported(servers: Servers) -> None:
    """A bot in safe mode refuses plain messages (and vice versa): the chat shows no reply, no crash."""
    encrypt = [] if servers.mode == "aes" else ["--encrypt"]
    out = chat(servers, "你好\n", *encrypt, "--wait", "0.3")
    assert "你说" not in out


def test_chat_needs_a_token() -> None:
    result = CliRunner().invoke(cli, ["chat"], input="", env={"CUNWU_WECHAT_TOKEN": ""})
    assert result.exit_code != 0
    assert "CUNWU_WECHAT_TOKEN" in result.output
