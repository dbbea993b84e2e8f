"""WeCom group robot: splitting in bytes, the 20-a-minute limit, 130101."""

from __future__ import annotations

import re

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from hypothesis import given, settings
from hypothesis import strategies as st

from wechat.errors import PlatformBusy, RateLimited, WeChatError
from wechat.fake_platform import FakeConfig, FakePlatform
from wechat.robot import (
    MARKDOWN_LIMIT_BYTES,
    TEXT_LIMIT_BYTES,
    RateLimiter,
    WeComRobot,
    mask_key,
    split_message,
)

KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"


def size(text: str) -> int:
    return len(text.encode("utf-8"))


# -- splitting ----------------------------------------------------------------------------------


def test_short_text_is_one_part() -> None:
    assert split_message("通知：明天上午九点开会。", 2048) == ["通知：明天上午九点开会。"]
    assert split_message("", 2048) == []
    assert split_message("\n\n  \n", 2048) == []


def test_splits_on_paragraphs_first() -> None:
    paragraphs = [f"第{i}段：" + "补贴" * 100 for i in range(10)]  # ~612 bytes each
    text = "\n\n".join(paragraphs)
    parts = split_message(text, TEXT_LIMIT_BYTES)
    assert len(parts) > 1
    assert all(size(p) <= TEXT_LIMIT_BYTES for p in parts)
    assert "\n\n".join(parts) == text  # nothing lost, no paragraph cut
    for part in parts:
        assert all(p in paragraphs for p in part.split("\n\n"))


def test_long_paragraph_splits_on_lines() -> None:
    lines = [f"{i:03d} 张三 低保 480元" for i in range(300)]
    paragraph = "\n".join(lines)
    parts = split_message(paragraph, 1000)
    assert all(size(p) <= 1000 for p in parts)
    assert "\n".join(parts) == paragraph
    assert all(line in lines for part in parts for line in part.split("\n"))


def test_long_line_splits_on_characters_never_mid_utf8() -> None:
    line = "耕" * 1000 + "😀" * 10  # 3-byte and 4-byte characters
    parts = split_message(line, 2048)
    assert all(size(p) <= 2048 for p in parts)
    assert "".join(parts) == line
    assert size(parts[0]) == 2046  # 682 whole characters, not 2048 bytes cut mid-character
    emoji_parts = split_message("😀" * 5, 6)
    assert emoji_parts == ["😀", "😀", "😀", "😀", "😀"]


@settings(deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("ab 耕地\n😀。")), max_size=3000),
    st.sampled_from([8, 64, 300, 2048]),
)
def test_split_property(text: str, limit: int) -> None:
    parts = split_message(text, limit)
    assert all(0 < size(p) <= limit for p in parts)
    assert all(p.strip() for p in parts)
    assert re.sub(r"\s", "", "".join(parts)) == re.sub(r"\s", "", text)


# -- the limiter --------------------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.slept.append(delay)
        self.now += delay


async def test_sliding_window() -> None:
    t = FakeTime()
    limiter = RateLimiter(20, 60, clock=t.clock, sleep=t.sleep)
    for _ in range(20):
        await limiter.acquire("k", wait=False)
        t.now += 1  # one a second
    with pytest.raises(RateLimited) as exc:
        await limiter.acquire("k", wait=False)
    assert exc.value.retry_after == pytest.approx(40)  # the first send leaves the window at 1060
    await limiter.acquire("other", wait=False)  # per key
    await limiter.acquire("k")  # waits instead
    assert t.slept == [pytest.approx(40)]
    assert limiter.available("k") == 0


# -- against the fake ---------------------------------------------------------------------------


@pytest.fixture
def platform() -> FakePlatform:
    return FakePlatform(FakeConfig(robot_keys=frozenset({KEY, KEY + "2"})))


def make_robot(session: aiohttp.ClientSession, server: TestServer, **kwargs: object) -> WeComRobot:
    async def no_sleep(_: float) -> None:
        return None

    kwargs.setdefault("sleep", no_sleep)
    return WeComRobot(session, str(server.make_url("")), **kwargs)  # type: ignore[arg-type]


async def test_send_text_and_markdown(
    session: aiohttp.ClientSession, server: TestServer, platform: FakePlatform
) -> None:
    robot = make_robot(session, server)
    assert await robot.send_text(KEY, "村委会通知：明天开会。", mentioned_mobile_list=["13800000000"]) == 1
    long_md = "\n\n".join(f"## 第{i}项\n" + "- 资金 1,000 元\n" * 40 for i in range(8))
    parts = await robot.send_markdown(KEY + "2", long_md)
    assert parts == len(split_message(long_md, MARKDOWN_LIMIT_BYTES)) > 1
    text_msg, *md_msgs = platform.messages
    assert text_msg["key"] == KEY
    assert text_msg["body"] == {
        "msgtype": "text",
        "text": {"content": "村委会通知：明天开会。", "mentioned_mobile_list": ["13800000000"]},
    }
    assert len(md_msgs) == parts
    assert all(size(m["body"]["markdown"]["content"]) <= MARKDOWN_LIMIT_BYTES for m in md_msgs)


async def test_long_text_is_split_below_the_platform_cap(
    session: aiohttp.ClientSession, server: TestServer, platform: FakePlatform
) -> None:
    robot = make_robot(session, server)
    text = "\n".join(f"{i}. 王五 耕地地力保护补贴 123.45 元" for i in range(200))
    sent = await robot.send_text(KEY, text)
    assert sent == len(platform.messages) > 1
    assert all(size(m["body"]["text"]["content"]) <= TEXT_LIMIT_BYTES for m in platform.messages)


async def test_platform_rate_limit_130101(
    session: aiohttp.ClientSession, server: TestServer, platform: FakePlatform
) -> None:
    robot = make_robot(session, server, limiter=RateLimiter(limit=1000))  # our limiter out of the way
    for i in range(20):
        await robot.send_text(KEY, f"第{i}条")
    with pytest.raises(RateLimited) as exc:
        await robot.send_text(KEY, "第21条")
    assert exc.value.errcode == 130101
    assert KEY not in str(exc.value) and KEY not in (exc.value.detail or "")
    assert mask_key(KEY) in (exc.value.detail or "")
    assert platform.calls["webhook_send"] == 21  # not retried
    await robot.send_text(KEY + "2", "另一个群不受影响")


async def test_injected_rate_limit(session: aiohttp.ClientSession, server: TestServer, platform: FakePlatform) -> None:
    robot = make_robot(session, server)
    platform.apply_fault_spec({"rate_limit": True, "count": 1})
    with pytest.raises(RateLimited):
        await robot.send_text(KEY, "x")
    await robot.send_text(KEY, "x")


async def test_local_limit_all_or_nothing(
    session: aiohttp.ClientSession, server: TestServer, platform: FakePlatform
) -> None:
    robot = make_robot(session, server, wait=False)
    for i in range(18):
        await robot.send_text(KEY, f"{i}")
    three_parts = "\n\n".join(["耕" * 600] * 3)
    with pytest.raises(RateLimited):
        await robot.send_text(KEY, three_parts)
    assert len(platform.messages) == 18  # nothing half-sent
    assert await robot.send_text(KEY, "耕" * 600 + "\n\n" + "地" * 600) == 2


async def test_local_limit_waits(session: aiohttp.ClientSession, server: TestServer, platform: FakePlatform) -> None:
    t = FakeTime()
    platform.config.clock = t.clock  # the platform's window moves with our clock
    robot = make_robot(session, server, limiter=RateLimiter(clock=t.clock, sleep=t.sleep))
    for i in range(21):
        await robot.send_text(KEY, f"{i}")
    assert len(t.slept) == 1 and t.slept[0] == pytest.approx(60)
    assert len(platform.messages) == 21


async def test_errors(session: aiohttp.ClientSession, server: TestServer, platform: FakePlatform) -> None:
    robot = make_robot(session, server)
    with pytest.raises(WeChatError) as exc:
        await robot.send_text("unknown-key", "x")
    assert exc.value.errcode == 93000
    assert "unknown-key" not in str(exc.value)
    platform.inject(api="webhook_send", status=502, count=5)
    with pytest.raises(PlatformBusy):
        await robot.send_text(KEY, "x")
    assert platform.calls["webhook_send"] == 1 + 3  # bounded retries
    assert await robot.send_text(KEY, "") == 0
