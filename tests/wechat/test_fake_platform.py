"""The fake platform at the HTTP level: real request/response formats, recording, faults."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from wechat.fake_platform import FAKE_PLATFORM, FakeConfig, FakePlatform, create_fake_app

APPID, SECRET = "wx_fake", "fake_secret"


@pytest.fixture
def platform() -> FakePlatform:
    return FakePlatform(FakeConfig(appid=APPID, secret=SECRET, robot_rate_per_minute=3))


@pytest.fixture
async def http(platform: FakePlatform, aiohttp_client) -> TestClient:  # type: ignore[no-untyped-def]
    return await aiohttp_client(platform.make_app())


async def get_json(http: TestClient, path: str, **params: Any) -> Any:
    resp = await http.get(path, params=params)
    assert resp.status == 200
    return json.loads(await resp.read())


async def post_json(http: TestClient, path: str, body: Any, **params: Any) -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    resp = await http.post(path, params=params, data=data)
    assert resp.status == 200
    return json.loads(await resp.read())


async def token(http: TestClient) -> str:
    answer = await get_json(http, "/cgi-bin/token", grant_type="client_credential", appid=APPID, secret=SECRET)
    assert answer["expires_in"] == 7200
    return str(answer["access_token"])


def test_create_fake_app_exposes_state() -> None:
    app = create_fake_app(FakeConfig(appid="wx_x"))
    assert app[FAKE_PLATFORM].config.appid == "wx_x"


async def test_token_validation(http: TestClient, platform: FakePlatform) -> None:
    bad = [
        ({"grant_type": "password", "appid": APPID, "secret": SECRET}, 40002),
        ({"grant_type": "client_credential", "appid": "wx_other", "secret": SECRET}, 40013),
        ({"grant_type": "client_credential", "appid": APPID, "secret": "nope"}, 40125),
    ]
    for params, code in bad:
        assert (await get_json(http, "/cgi-bin/token", **params))["errcode"] == code
    assert platform.token_fetches == 0
    t = await token(http)
    assert (await get_json(http, "/_fake/stats"))["token_fetches"] == 1
    body = {"touser": "o_1", "msgtype": "text", "text": {"content": "x"}}
    assert (await post_json(http, "/cgi-bin/message/custom/send", body))["errcode"] == 41001
    assert (await post_json(http, "/cgi-bin/message/custom/send", body, access_token="forged"))["errcode"] == 40001
    assert (await post_json(http, "/cgi-bin/message/custom/send", body, access_token=t))["errcode"] == 0
    await post_json(http, "/_fake/faults", {"expire_tokens": True})
    assert (await post_json(http, "/cgi-bin/message/custom/send", body, access_token=t))["errcode"] == 42001


async def test_old_token_survives_a_refetch_for_five_minutes(http: TestClient, platform: FakePlatform) -> None:
    now = [1000.0]
    platform.config.clock = lambda: now[0]
    first = await token(http)
    await token(http)
    body = {"touser": "o_1", "msgtype": "text", "text": {"content": "x"}}
    assert (await post_json(http, "/cgi-bin/message/custom/send", body, access_token=first))["errcode"] == 0
    now[0] += 301
    assert (await post_json(http, "/cgi-bin/message/custom/send", body, access_token=first))["errcode"] == 42001


async def test_messages_recorded_and_cleared(http: TestClient) -> None:
    t = await token(http)
    for text in ["一", "二"]:
        body = {"touser": "o_1", "msgtype": "text", "text": {"content": text}}
        await post_json(http, "/cgi-bin/message/custom/send", body, access_token=t)
    await post_json(
        http, "/cgi-bin/message/template/send", {"touser": "o_2", "template_id": "T", "data": {}}, access_token=t
    )
    messages = await get_json(http, "/_fake/messages")
    assert [m["api"] for m in messages] == ["custom_send", "custom_send", "template_send"]
    assert messages[0]["body"]["text"]["content"] == "一"
    assert {"api", "body", "at", "seq"} <= set(messages[0])
    assert messages[0]["at"].endswith("+00:00")
    assert len(await get_json(http, "/_fake/messages", touser="o_1")) == 2
    assert len(await get_json(http, "/_fake/messages", since=str(messages[1]["seq"]))) == 1
    assert len(await get_json(http, "/_fake/messages", api="template_send")) == 1
    resp = await http.delete("/_fake/messages")
    assert (await resp.json())["deleted"] == 3
    assert await get_json(http, "/_fake/messages") == []


async def test_custom_send_validation(http: TestClient) -> None:
    t = await token(http)
    url = "/cgi-bin/message/custom/send"
    assert (await post_json(http, url, b"{not json", access_token=t))["errcode"] == 47001
    assert (
        await post_json(http, url, {"touser": "bad id!", "msgtype": "text", "text": {"content": "x"}}, access_token=t)
    )["errcode"] == 40003
    assert (await post_json(http, url, {"touser": "o_1", "msgtype": "text", "text": {"content": ""}}, access_token=t))[
        "errcode"
    ] == 44004
    assert (await post_json(http, url, {"touser": "o_1", "msgtype": "telegram"}, access_token=t))["errcode"] == 40008


async def test_tagging_caps(http: TestClient) -> None:
    t = await token(http)
    tag = (await post_json(http, "/cgi-bin/tags/create", {"tag": {"name": "清河村"}}, access_token=t))["tag"]
    assert tag["name"] == "清河村"
    long_name = {"tag": {"name": "村" * 31}}
    assert (await post_json(http, "/cgi-bin/tags/create", long_name, access_token=t))["errcode"] == 45158
    fifty_one = {"openid_list": [f"o_{i}" for i in range(51)], "tagid": tag["id"]}
    assert (await post_json(http, "/cgi-bin/tags/members/batchtagging", fifty_one, access_token=t))["errcode"] == 40032
    fifty = {"openid_list": [f"o_{i}" for i in range(50)], "tagid": tag["id"]}
    assert (await post_json(http, "/cgi-bin/tags/members/batchtagging", fifty, access_token=t))["errcode"] == 0
    unknown = {"openid_list": ["o_1"], "tagid": 99999}
    assert (await post_json(http, "/cgi-bin/tags/members/batchtagging", unknown, access_token=t))["errcode"] == 45159
    tags = (await get_json(http, "/cgi-bin/tags/get", access_token=t))["tags"]
    assert tags == [{"id": tag["id"], "name": "清河村", "count": 50}]


async def test_mass_send(http: TestClient) -> None:
    t = await token(http)
    tag = (await post_json(http, "/cgi-bin/tags/create", {"tag": {"name": "x"}}, access_token=t))["tag"]["id"]
    body = {
        "filter": {"is_to_all": False, "tag_id": tag},
        "text": {"content": "停水通知"},
        "msgtype": "text",
        "clientmsgid": "n1",
    }
    first = await post_json(http, "/cgi-bin/message/mass/sendall", body, access_token=t)
    assert first["errcode"] == 0 and first["msg_id"] and first["msg_data_id"]
    again = await post_json(http, "/cgi-bin/message/mass/sendall", body, access_token=t)
    assert again["errcode"] == 45065 and again["msg_id"] == first["msg_id"]
    legacy = {
        **body,
        "filter": {"is_to_all": False, "group_id": tag},
        "clientmsgid": "n2",
    }  # what wechatpy 1.8.18 sends
    assert (await post_json(http, "/cgi-bin/message/mass/sendall", legacy, access_token=t))["errcode"] == 40050


async def test_webhook(http: TestClient) -> None:
    url = "/cgi-bin/webhook/send"
    text = {"msgtype": "text", "text": {"content": "通知"}}
    assert (await post_json(http, url, text))["errcode"] == 93000
    assert (await post_json(http, url, b"{not json"))["errcode"] == 93000  # no key: refused before the body
    assert (await post_json(http, url, b"{not json", key="k"))["errcode"] == 47001
    too_long = {"msgtype": "text", "text": {"content": "耕" * 683}}  # 2049 bytes
    assert (await post_json(http, url, too_long, key="k"))["errcode"] == 40058
    just_fits = {"msgtype": "markdown", "markdown": {"content": "耕" * 1365}}  # 4095 bytes
    assert (await post_json(http, url, just_fits, key="k"))["errcode"] == 0
    assert (await post_json(http, url, text, key="k"))["errcode"] == 0
    assert (await post_json(http, url, text, key="k"))["errcode"] == 0
    assert (await post_json(http, url, text, key="k"))["errcode"] == 130101  # rate 3/min in this fixture
    assert (await post_json(http, url, text, key="k2"))["errcode"] == 0
    recorded = await get_json(http, "/_fake/messages", api="webhook_send")
    assert [m["key"] for m in recorded] == ["k", "k", "k", "k2"]


async def test_faults(http: TestClient, platform: FakePlatform) -> None:
    t = await token(http)
    body = {"touser": "o_1", "msgtype": "text", "text": {"content": "x"}}
    url = "/cgi-bin/message/custom/send"
    await post_json(http, "/_fake/faults", {"errcode": 45009, "count": 2})
    await post_json(http, "/_fake/faults", {"status": 503, "count": 1, "api": "template_send"})
    assert len(await get_json(http, "/_fake/faults")) == 2
    assert (await post_json(http, url, body, access_token=t))["errcode"] == 45009
    assert (await post_json(http, url, body, access_token=t))["errcode"] == 45009
    assert (await post_json(http, url, body, access_token=t))["errcode"] == 0
    resp = await http.post("/cgi-bin/message/template/send", params={"access_token": t}, data=b"{}")
    assert resp.status == 503
    # token endpoints are only hit by faults aimed at them
    await post_json(http, "/_fake/faults", {"errcode": -1})
    await token(http)
    await http.delete("/_fake/faults")
    assert platform.faults == []
    await post_json(http, "/_fake/faults", {"delay_ms": 300, "count": 1})
    started = time.monotonic()
    await post_json(http, url, body, access_token=t)
    assert time.monotonic() - started >= 0.3
    await post_json(http, "/_fake/faults", {"latency_ms": 10})
    assert platform.config.latency_ms == 10
    resp = await http.post("/_fake/faults", data=b'{"nonsense": 1}')
    assert resp.status == 400
    stats = await get_json(http, "/_fake/stats")
    assert stats["calls"]["custom_send"] == 4 and stats["token_fetches"] == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_cunwu_dev_fake_wechat_runs(tmp_path: Any) -> None:
    port = _free_port()
    env = {**os.environ, "CUNWU_WECHAT_APPID": "wx_dev", "CUNWU_WECHAT_SECRET": "dev_secret"}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from admin_cli.main import main; main()", "dev", "fake-wechat", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as s:
            for _ in range(100):
                try:
                    async with s.get(base + "/_fake/stats") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
            params = {"grant_type": "client_credential", "appid": "wx_dev", "secret": "dev_secret"}
            async with s.get(base + "/cgi-bin/token", params=params) as resp:
                assert "access_token" in await resp.json(content_type=None)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    text = out.decode()
    assert "dev_secret" not in text  # the access log leaves query strings out
    assert "appid=wx_dev" in text
