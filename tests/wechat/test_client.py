"""WeChatClient against the fake platform over real loopback HTTP."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from core.config import Settings
from core.errors import ConfigError
from wechat.client import MassSendResult, Tag, WeChatClient, client_from_settings
from wechat.errors import (
    BadOpenId,
    CustomerServiceLimit,
    OutsideWindow,
    PlatformBusy,
    PlatformUnavailable,
    QuotaExceeded,
    TokenInvalid,
    WeChatError,
)
from wechat.fake_platform import FakeConfig, FakePlatform
from wechat.token_store import MemoryTokenStore

SECRET = "s3cret_app_secret_value"


@dataclass
class Sleeps:
    delays: list[float] = field(default_factory=list)

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def platform() -> FakePlatform:
    return FakePlatform(
        FakeConfig(
            appid="wx_test",
            secret=SECRET,
            unfollowed=frozenset({"o_unfollowed"}),
            outside_window=frozenset({"o_silent"}),
            custom_limit=5,
        )
    )


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_client(session: aiohttp.ClientSession, base: str, sleeps: Sleeps, **kwargs: object) -> WeChatClient:
    return WeChatClient(session, "wx_test", SECRET, base, MemoryTokenStore(), sleep=sleeps, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def client(session: aiohttp.ClientSession, server: TestServer, sleeps: Sleeps) -> WeChatClient:
    return make_client(session, str(server.make_url("")), sleeps)


async def test_custom_text(client: WeChatClient, platform: FakePlatform) -> None:
    await client.send_custom_text("o_villager", "您的补贴已发放。")
    [m] = platform.messages
    assert m["api"] == "custom_send"
    assert m["body"] == {"touser": "o_villager", "msgtype": "text", "text": {"content": "您的补贴已发放。"}}
    assert platform.token_fetches == 1
    await client.send_custom_text("o_villager", "第二条")
    assert platform.token_fetches == 1  # the token is reused


async def test_template(client: WeChatClient, platform: FakePlatform) -> None:
    msgid = await client.send_template(
        "o_villager", "TPL_1", {"first": "通知", "keyword1": {"value": "100元", "color": "#173177"}}, url="http://x/y"
    )
    assert isinstance(msgid, int)
    body = platform.messages[-1]["body"]
    assert body["data"] == {"first": {"value": "通知"}, "keyword1": {"value": "100元", "color": "#173177"}}
    assert body["url"] == "http://x/y"


async def test_tags(client: WeChatClient, platform: FakePlatform) -> None:
    tag_id = await client.create_tag("清河村")
    other = await client.create_tag("柳树村")
    assert tag_id != other
    openids = [f"o_user_{i:03d}" for i in range(120)]
    await client.tag_users(tag_id, openids)
    assert platform.calls["tags_batchtagging"] == 3  # 50 + 50 + 20
    assert sorted(await client.list_tags(), key=lambda t: t.id) == [Tag(tag_id, "清河村", 120), Tag(other, "柳树村", 0)]
    await client.untag_users(tag_id, openids[:60])
    assert platform.calls["tags_batchuntagging"] == 2
    assert platform.tag_members[tag_id] == set(openids[60:])
    with pytest.raises(WeChatError) as exc:
        await client.create_tag("清河村")
    assert exc.value.errcode == 45157


async def test_mass_send_dedupes_by_clientmsgid(client: WeChatClient, platform: FakePlatform) -> None:
    tag_id = await client.create_tag("清河村")
    await client.tag_users(tag_id, ["o_a", "o_b"])
    first = await client.mass_send_text_by_tag(tag_id, "明天停水", "notice-7-qinghe")
    assert isinstance(first, MassSendResult) and first.msg_id and not first.duplicate
    again = await client.mass_send_text_by_tag(tag_id, "明天停水", "notice-7-qinghe")
    assert again.duplicate and again.msg_id == first.msg_id
    sent = [m for m in platform.messages if m["api"] == "mass_sendall"]
    assert len(sent) == 1
    assert sent[0]["body"]["filter"] == {"is_to_all": False, "tag_id": tag_id}
    assert sent[0]["recipients"] == ["o_a", "o_b"]


async def test_token_expiry_mid_call_one_refresh_one_retry(client: WeChatClient, platform: FakePlatform) -> None:
    await client.send_custom_text("o_villager", "一")
    assert platform.token_fetches == 1
    platform.expire_tokens()
    await client.send_custom_text("o_villager", "二")
    assert platform.token_fetches == 2
    assert platform.calls["custom_send"] == 3  # one, then (42001, retry)
    assert [m["body"]["text"]["content"] for m in platform.messages] == ["一", "二"]


async def test_token_rejected_twice_is_not_retried_forever(client: WeChatClient, platform: FakePlatform) -> None:
    platform.inject(api="custom_send", errcode=40001, count=100)
    with pytest.raises(TokenInvalid):
        await client.send_custom_text("o_villager", "x")
    assert platform.calls["custom_send"] == 2
    assert platform.token_fetches == 2


async def test_quota_is_surfaced_not_retried(client: WeChatClient, platform: FakePlatform, sleeps: Sleeps) -> None:
    platform.inject(errcode=45009, count=100)
    with pytest.raises(QuotaExceeded) as exc:
        await client.send_custom_text("o_villager", "x")
    assert exc.value.errcode == 45009
    assert platform.calls["custom_send"] == 1
    assert sleeps.delays == []


async def test_busy_is_retried_a_bounded_number_of_times(
    client: WeChatClient, platform: FakePlatform, sleeps: Sleeps
) -> None:
    platform.inject(errcode=-1, count=100)
    with pytest.raises(PlatformBusy):
        await client.send_custom_text("o_villager", "x")
    assert platform.calls["custom_send"] == 1 + client.max_retries
    assert len(sleeps.delays) == client.max_retries
    assert sleeps.delays[0] < sleeps.delays[-1]  # exponential backoff
    assert platform.messages == []


async def test_busy_then_success(client: WeChatClient, platform: FakePlatform) -> None:
    platform.inject(errcode=-1, count=1)
    platform.inject(status=503, count=1)
    await client.send_custom_text("o_villager", "x")
    assert platform.calls["custom_send"] == 3
    assert len(platform.messages) == 1


async def test_timeouts(
    session: aiohttp.ClientSession, server: TestServer, platform: FakePlatform, sleeps: Sleeps
) -> None:
    client = make_client(session, str(server.make_url("")), sleeps, timeout=0.2, max_retries=1)
    await client.send_custom_text("o_villager", "warm up")
    platform.inject(delay=1.0, count=1)
    await client.send_custom_text("o_villager", "slow once")
    assert platform.calls["custom_send"] == 3
    platform.inject(delay=1.0, count=2)
    with pytest.raises(PlatformUnavailable):
        await client.send_custom_text("o_villager", "slow twice")
    assert platform.calls["custom_send"] == 5


async def test_token_fetch_has_a_timeout(
    session: aiohttp.ClientSession, server: TestServer, platform: FakePlatform, sleeps: Sleeps
) -> None:
    client = make_client(session, str(server.make_url("")), sleeps, timeout=0.2, max_retries=0)
    platform.inject(api="token", delay=1.0, count=1)
    with pytest.raises(PlatformUnavailable):
        await client.send_custom_text("o_villager", "x")
    await client.send_custom_text("o_villager", "x")  # nothing stuck: the next call fetches again


async def test_network_error_never_shows_the_secret(
    session: aiohttp.ClientSession, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(session, "http://127.0.0.1:1", sleeps, max_retries=2)
    with pytest.raises(PlatformUnavailable) as exc:
        await client.send_custom_text("o_villager", "x")
    assert len(sleeps.delays) == 2
    ours = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("wechat"))
    text = f"{exc.value} {exc.value.detail} {exc.value!r} {client!r} {ours}"
    assert SECRET not in text


async def test_typed_errors(client: WeChatClient, platform: FakePlatform, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(OutsideWindow) as e1:
        await client.send_custom_text("o_unfollowed", "x")
    assert e1.value.errcode == 43004
    with pytest.raises(OutsideWindow) as e2:
        await client.send_custom_text("o_silent", "x")
    assert e2.value.errcode == 45015
    with pytest.raises(BadOpenId):
        await client.send_custom_text("bad openid!", "x")
    for _ in range(5):
        await client.send_custom_text("o_chatty", "x")
    with pytest.raises(CustomerServiceLimit):
        await client.send_custom_text("o_chatty", "x")
    ours = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("wechat"))
    assert "43004" in ours
    assert SECRET not in ours
    assert next(iter(platform.tokens)) not in ours


async def test_wrong_secret(session: aiohttp.ClientSession, server: TestServer) -> None:
    client = WeChatClient(session, "wx_test", "wrong", str(server.make_url("")), MemoryTokenStore())
    with pytest.raises(WeChatError) as exc:
        await client.send_custom_text("o_villager", "x")
    assert exc.value.errcode == 40125


async def test_client_from_settings(session: aiohttp.ClientSession, server: TestServer, platform: FakePlatform) -> None:
    settings = Settings(wechat_appid="wx_test", wechat_secret=SECRET, wechat_api_base=str(server.make_url("")))
    client = client_from_settings(session, settings, MemoryTokenStore())
    await client.send_custom_text("o_villager", "x")
    assert len(platform.messages) == 1
    with pytest.raises(ConfigError):
        client_from_settings(session, Settings(), MemoryTokenStore())
