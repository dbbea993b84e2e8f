"""WeCom group robot: splitting in bytes, one post and WeCom's answer as it came."""

from __future__ import annotations

import re

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from hypothesis import given, settings
from hypothesis import strategies as st

from wechat.errors import PlatformBusy, PlatformUnavailable
from wechat.fake_platform import FakeConfig, FakePlatform
from wechat.robot import TEXT_LIMIT_BYTES, mask_key, post_text, split_message

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


# -- against the fake ---------------------------------------------------------------------------


@pytest.fixture
def platform() -> FakePlatform:
    return FakePlatform(FakeConfig())


async def test_post_text(session: aiohttp.ClientSession, server: TestServer, platform: FakePlatform) -> None:
    base = str(server.make_url(""))
    answer = await post_text(session, base, KEY, "村委会通知：明天开会。")
    assert answer.ok and answer.errcode == 0
    [sent] = platform.messages
    assert sent["key"] == KEY
    assert sent["body"] == {"msgtype": "text", "text": {"content": "村委会通知：明天开会。"}}
    with pytest.raises(ValueError):
        await post_text(session, base, KEY, "耕" * 683)  # 2,049 bytes


async def test_platform_answers_come_back_as_they_came(
    session: aiohttp.ClientSession, server: TestServer, platform: FakePlatform
) -> None:
    base = str(server.make_url(""))
    for i in range(20):
        assert (await post_text(session, base, KEY, f"第{i}条")).ok
    limited = await post_text(session, base, KEY, "第21条")
    assert limited.errcode == 130101 and not limited.ok
    assert platform.calls["webhook_send"] == 21  # not retried
    assert (await post_text(session, base, KEY + "2", "另一个群不受影响")).ok
    assert (await post_text(session, base, "", "x")).errcode == 93000


async def test_transport_errors(session: aiohttp.ClientSession, server: TestServer, platform: FakePlatform) -> None:
    platform.inject(api="webhook_send", status=502, count=1)
    with pytest.raises(PlatformBusy) as exc:
        await post_text(session, str(server.make_url("")), KEY, "x")
    assert platform.calls["webhook_send"] == 1  # not retried
    assert KEY not in str(exc.value) and mask_key(KEY) in (exc.value.detail or "")
    with pytest.raises(PlatformUnavailable):
        await post_text(session, "http://127.0.0.1:1", KEY, "x")
