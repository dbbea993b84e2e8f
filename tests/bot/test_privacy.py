"""Openids stay private (an HMAC under the installation's key), and secrets never reach the logs."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging

import pytest
from sqlalchemy import select

from bot.app import CONVERSATION, HASHER, HTTP, QUESTION_LOG
from bot.models import BotSecret, InboundMessage, QuestionLog
from core.db import make_engine, make_sessionmaker
from tests.bot.conftest import AES_KEY, SECRET, TOKEN, BotFactory, StubMatcher
from wechat.fake_platform import FakePlatform
from wechat.robot import post_text

OPENID = "oPrivacy0000000000000001"
ROBOT_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"


async def test_logs_and_dedupe_rows_hold_an_hmac_not_the_openid(
    make_bot: BotFactory, migrated_url: str, stub: StubMatcher
) -> None:
    app, wx = await make_bot(migrated_url, matcher=stub)
    assert (await wx.text(OPENID, "低保怎么申请", msg_id=9101)).content == "答：低保怎么申请"
    await app[QUESTION_LOG].flush()
    await app[CONVERSATION].flush()
    engine = make_engine(migrated_url)
    with make_sessionmaker(engine)() as session:
        key = bytes.fromhex(session.scalars(select(BotSecret.value)).one())
        logged = session.scalars(select(QuestionLog.user_hash)).one()
        claimed = session.scalars(select(InboundMessage.openid)).one()
    engine.dispose()
    expected = hmac.new(key, OPENID.encode(), hashlib.sha256).hexdigest()
    assert logged == expected[:16] and claimed == expected[:32]
    assert logged != hashlib.sha256(OPENID.encode()).hexdigest()[:16]  # not the old unsalted hash
    _, again = await make_bot(migrated_url, matcher=stub)  # another process of the same installation
    assert again is not None and app[HASHER].key == key


async def test_a_full_conversation_at_debug_logs_no_secret(
    make_bot: BotFactory,
    migrated_url: str,
    platform: tuple[FakePlatform, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Everything at DEBUG (SQL included) through the real app: a question answered late (customer
    service, so an access token is fetched), the token expiring mid-call and refreshed, events."""
    fake, _ = platform
    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.DEBUG)
    try:
        app, wx = await make_bot(migrated_url, matcher=StubMatcher(delay=0.6), budget=0.3)
        await wx.event(OPENID, "subscribe")
        assert (await wx.text(OPENID, "低保怎么申请")).body == "success"  # late: customer service
        for _ in range(100):
            if fake.messages_for("custom_send"):
                break
            await asyncio.sleep(0.05)
        fake.expire_tokens()
        await wx.text(OPENID, "医保怎么交")
        for _ in range(100):
            if len(fake.messages_for("custom_send")) == 2:
                break
            await asyncio.sleep(0.05)
        assert len(fake.messages_for("custom_send")) == 2 and fake.tokens_issued == 2
        await app[QUESTION_LOG].flush()
        # a notice to a village group's robot, then one the platform refuses
        assert (await post_text(app[HTTP], platform[1], ROBOT_KEY, "村务公开：本月低保名单已公示")).ok
        fake.inject(api="webhook_send", errcode=93000, errmsg="invalid webhook url")
        assert (await post_text(app[HTTP], platform[1], ROBOT_KEY, "再发一条")).errcode == 93000
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    # (aiohttp.access: the test servers' default access log; cunwu serve and the fake log paths only)
    records = [r for r in caplog.records if r.name != "aiohttp.access"]
    text = "\n".join(f"{r.getMessage()} {r.args} {r.exc_text or ''}" for r in records)
    assert "SELECT" in text or "INSERT" in text  # SQL was logged at DEBUG
    for secret in [SECRET, TOKEN, AES_KEY, ROBOT_KEY, *fake.tokens]:
        assert secret not in text
    assert OPENID not in "".join(r.getMessage() for r in caplog.records if r.name.startswith("sqlalchemy"))
