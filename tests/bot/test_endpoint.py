"""POST /wechat and GET /wechat driven with the XML, signatures and AES WeChat itself produces."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import select

from bot.app import CONVERSATION, ENDPOINT, QUESTION_LOG
from bot.dialogue import EventContext
from bot.models import VIA_CUSTOMER_SERVICE, VIA_FAILED, VIA_PASSIVE
from core.db import make_engine, make_sessionmaker
from tests.bot.conftest import TOKEN, BotFactory, StubMatcher
from village_lists.models import Follower
from wechat.fake_platform import FakePlatform
from wechat.signature import sign
from wechat.testing import build_text_xml

OPENID = "oVillager0001"


async def wait_until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def follower(url: str, openid: str) -> Follower | None:
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            return session.scalar(select(Follower).where(Follower.openid == openid))
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------------- GET check


async def test_echostr_check(make_bot: BotFactory, migrated_url: str, stub: StubMatcher) -> None:
    _, wx = await make_bot(migrated_url, matcher=stub)
    ts, nonce = str(int(time.time())), "123456"
    good = {"signature": sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce, "echostr": "5678901234"}
    resp = await wx.client.get("/wechat", params=good)
    assert resp.status == 200
    assert await resp.text() == "5678901234"
    bad = {**good, "signature": "0" * 40}
    assert (await wx.client.get("/wechat", params=bad)).status == 403
    assert (await wx.client.get("/wechat")).status == 403


# ------------------------------------------------------------------------------------- messages


async def test_text_question_safe_mode(make_bot: BotFactory, migrated_url: str, stub: StubMatcher) -> None:
    app, wx = await make_bot(migrated_url, matcher=stub)
    reply = await wx.text(OPENID, "耕地地力补贴一亩多少钱")
    assert reply.status == 200
    assert reply.content == "答：耕地地力补贴一亩多少钱"
    assert "<Encrypt>" in reply.body  # the reply itself is encrypted
    assert stub.calls == [("耕地地力补贴一亩多少钱", None)]
    await app[QUESTION_LOG].flush()


async def test_text_question_plain_mode(make_bot: BotFactory, migrated_url: str, stub: StubMatcher) -> None:
    _, wx = await make_bot(migrated_url, matcher=stub, safe=False)
    reply = await wx.text(OPENID, "低保怎么申请")
    assert reply.status == 200
    assert reply.content == "答：低保怎么申请"
    assert "<Encrypt>" not in reply.body


async def test_voice(make_bot: BotFactory, migrated_url: str, stub: StubMatcher) -> None:
    _, wx = await make_bot(migrated_url, matcher=stub)
    reply = await wx.voice(OPENID, "低保怎么申请。")
    assert reply.content == "答：低保怎么申请。"  # the recognition as WeChat sent it
    silent = await wx.voice(OPENID, "")
    assert silent.content is not None and "打字" in silent.content
    assert len(stub.calls) == 1


async def test_other_message_types_get_a_polite_reply(
    make_bot: BotFactory, migrated_url: str, stub: StubMatcher
) -> None:
    _, wx = await make_bot(migrated_url, matcher=stub)
    now = int(time.time())
    for i, (kind, extra, word) in enumerate(
        [
            ("image", "<PicUrl><![CDATA[http://x/y.jpg]]></PicUrl><MediaId><![CDATA[m]]></MediaId>", "图片"),
            ("location", "<Location_X>23.1</Location_X><Location_Y>100.2</Location_Y><Scale>20</Scale>", "位置"),
            ("link", "<Title><![CDATA[t]]></Title><Url><![CDATA[http://x]]></Url>", "链接"),
            ("video", "<MediaId><![CDATA[m]]></MediaId><ThumbMediaId><![CDATA[t]]></ThumbMediaId>", "视频"),
        ]
    ):
        xml = (
            f"<xml><ToUserName><![CDATA[gh_cunwu]]></ToUserName><FromUserName><![CDATA[{OPENID}]]></FromUserName>"
            f"<CreateTime>{now}</CreateTime><MsgType><![CDATA[{kind}]]></MsgType>{extra}<MsgId>{900 + i}</MsgId></xml>"
        )
        reply = await wx.post(xml, openid=OPENID)
        assert reply.status == 200
        assert reply.content is not None and word in reply.content and "文字" in reply.content
    assert stub.calls == []


async def test_unanswered_question_offers_help(make_bot: BotFactory, migrated_url: str, stub: StubMatcher) -> None:
    _, wx = await make_bot(migrated_url, matcher=stub)
    reply = await wx.text(OPENID, "火星上有低保吗")
    assert reply.content is not None and "没有找到" in reply.content and "0883-6712001" in reply.content


# --------------------------------------------------------------------------------------- events


async def test_subscribe_and_unsubscribe(make_bot: BotFactory, migrated_url: str, stub: StubMatcher) -> None:
    _, wx = await make_bot(migrated_url, matcher=stub)
    welcome = await wx.event(OPENID, "subscribe")
    assert welcome.content is not None and "绑定" in welcome.content and "提问" in welcome.content
    row = follower(migrated_url, OPENID)
    assert row is not None and row.active
    bye = await wx.event(OPENID, "unsubscribe")
    assert bye.status == 200 and bye.body == "success"
    row = follower(migrated_url, OPENID)
    assert row is not None and not row.active  # kept, marked inactive


async def test_menu_clicks(make_bot: BotFactory, migrated_url: str, stub: StubMatcher) -> None:
    _, wx = await make_bot(migrated_url, matcher=stub)
    bind = await wx.event(OPENID, "CLICK", "BIND_VILLAGE")
    assert bind.content is not None and "绑定 清河村" in bind.content
    mine = await wx.event(OPENID, "CLICK", "MY_VILLAGE", create_time=int(time.time()) + 1)
    assert mine.content is not None and "还没有绑定" in mine.content
    helptext = await wx.event(OPENID, "CLICK", "HELP", create_time=int(time.time()) + 2)
    assert helptext.content is not None and "使用说明" in helptext.content
    assert stub.calls == []


async def test_other_packages_event_handlers_and_unknown_events(
    make_bot: BotFactory, migrated_url: str, stub: StubMatcher
) -> None:
    seen: list[str] = []

    async def receipt(ctx: EventContext) -> str | None:
        seen.append(ctx.message.raw.get("MsgID", ""))
        return None

    _, wx = await make_bot(migrated_url, matcher=stub, events={"MASSSENDJOBFINISH": receipt})
    now = int(time.time())
    xml = (
        "<xml><ToUserName><![CDATA[gh_cunwu]]></ToUserName><FromUserName><![CDATA[oSystem]]></FromUserName>"
        f"<CreateTime>{now}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[MASSSENDJOBFINISH]]></Event><MsgID>1000001625</MsgID>"
        "<Status><![CDATA[send success]]></Status><TotalCount>100</TotalCount></xml>"
    )
    reply = await wx.post(xml, openid="oSystem")
    assert reply.body == "success"
    assert seen == ["1000001625"]
    unknown = await wx.event(OPENID, "SOME_FUTURE_EVENT")
    assert unknown.status == 200 and unknown.body == "success"


# ------------------------------------------------------------------------------------ refusals


async def test_bad_signatures_are_refused_before_parsing(
    make_bot: BotFactory, migrated_url: str, stub: StubMatcher
) -> None:
    app, wx = await make_bot(migrated_url, matcher=stub)
    xml = build_text_xml("gh_cunwu", OPENID, "低保", msg_id=1)
    ts = str(int(time.time()))
    resp = await wx.client.post(
        "/wechat", params={"signature": "f" * 40, "timestamp": ts, "nonce": "1"}, data=b"<not xml"
    )
    assert resp.status == 403
    resp = await wx.client.post("/wechat", data=xml.encode())
    assert resp.status == 403
    # right signature, wrong msg_signature (safe mode)
    reply = await wx.post(xml, openid=OPENID, timestamp=ts, nonce="42")
    assert reply.content == "答：低保"
    params = {"signature": sign(TOKEN, ts, "43"), "timestamp": ts, "nonce": "43", "encrypt_type": "aes"}
    params["msg_signature"] = "0" * 40
    resp = await wx.client.post("/wechat", params=params, data=b"<xml><Encrypt><![CDATA[abc]]></Encrypt></xml>")
    assert resp.status == 403
    # a replay: a valid signature over a timestamp outside the window
    old = str(int(time.time()) - 3600)
    replay = await wx.post(build_text_xml("gh_cunwu", OPENID, "低保", msg_id=2), openid=OPENID, timestamp=old)
    assert replay.status == 403
    assert app[ENDPOINT].stats.rejected == 4
    assert len(stub.calls) == 1


async def test_malformed_bodies_are_answered_success(
    make_bot: BotFactory, migrated_url: str, stub: StubMatcher
) -> None:
    _, wx = await make_bot(migrated_url, matcher=stub, safe=False)
    ts, nonce = str(int(time.time())), "777"
    params = {"signature": sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce}
    for body in [b"", b"<xml>", b"\xff\xfe<xml/>", b"<xml><MsgType>text</MsgType></xml>", b"<root/>"]:
        resp = await wx.client.post("/wechat", params=params, data=body)
        assert resp.status == 200
        assert await resp.text() == "success"
    resp = await wx.client.post("/wechat", params=params, data=b"<xml>" + b"a" * 70_000 + b"</xml>")
    assert resp.status == 413


# ------------------------------------------------------------------------------ retries (MsgId)


async def test_retry_of_same_msgid_is_answered_once(make_bot: BotFactory, migrated_url: str) -> None:
    slow = StubMatcher(delay=0.3)
    app, wx = await make_bot(migrated_url, matcher=slow)
    first, second, third = await asyncio.gather(
        wx.text(OPENID, "临时救助怎么申请", msg_id=555),
        wx.text(OPENID, "临时救助怎么申请", msg_id=555),
        wx.text(OPENID, "临时救助怎么申请", msg_id=555),
    )
    assert [r.content for r in (first, second, third)] == ["答：临时救助怎么申请"] * 3
    later = await wx.text(OPENID, "临时救助怎么申请", msg_id=555)  # after the answer is stored
    assert later.content == "答：临时救助怎么申请"
    assert len(slow.calls) == 1
    assert app[ENDPOINT].stats.retries == 3
    stored = await app[CONVERSATION].lookup("msg:555")
    assert stored is not None and stored.via == VIA_PASSIVE


# ------------------------------------------------------------------------ budget and CS fallback


async def test_budget_fallback_sends_answer_as_customer_service_message(
    make_bot: BotFactory, migrated_url: str, platform: tuple[FakePlatform, str]
) -> None:
    fake, _ = platform
    slow = StubMatcher(delay=1.0)
    app, wx = await make_bot(migrated_url, matcher=slow, budget=0.3)
    started = time.monotonic()
    reply = await wx.text(OPENID, "农村危房改造补助标准", msg_id=777)
    assert time.monotonic() - started < 0.9
    assert reply.status == 200 and reply.body == "success"
    await wait_until(lambda: fake.messages_for("custom_send"))
    sent = fake.messages_for("custom_send")
    assert [m["body"]["touser"] for m in sent] == [OPENID]
    assert sent[0]["body"]["text"]["content"] == "答：农村危房改造补助标准"
    # WeChat's retry after the late answer: success, nothing sent twice, matcher not called again
    retry = await wx.text(OPENID, "农村危房改造补助标准", msg_id=777)
    assert retry.body == "success"
    assert len(slow.calls) == 1
    assert len(fake.messages_for("custom_send")) == 1
    stored = await app[CONVERSATION].lookup("msg:777")
    assert stored is not None and stored.via == VIA_CUSTOMER_SERVICE
    assert app[ENDPOINT].stats.cs_sent == 1


async def test_token_expiry_mid_call_refreshes_once(
    make_bot: BotFactory, migrated_url: str, platform: tuple[FakePlatform, str]
) -> None:
    fake, _ = platform
    slow = StubMatcher(delay=0.4)
    app, wx = await make_bot(migrated_url, matcher=slow, budget=0.1)
    await wx.text(OPENID, "第一问", msg_id=1001)
    await wait_until(lambda: len(fake.messages_for("custom_send")) == 1)
    assert fake.token_fetches == 1
    fake.expire_tokens()
    await wx.text(OPENID, "第二问", msg_id=1002)
    await wait_until(lambda: len(fake.messages_for("custom_send")) == 2)
    assert fake.token_fetches == 2  # one refresh
    assert fake.calls["custom_send"] == 3  # the rejected call and one retry
    assert app[ENDPOINT].stats.cs_failed == 0


async def test_quota_error_is_surfaced_not_retried(
    make_bot: BotFactory, migrated_url: str, platform: tuple[FakePlatform, str]
) -> None:
    fake, _ = platform
    fake.inject(api="custom_send", errcode=45009, count=100)
    slow = StubMatcher(delay=0.3)
    app, wx = await make_bot(migrated_url, matcher=slow, budget=0.05)
    reply = await wx.text(OPENID, "养老保险怎么交", msg_id=2001)
    assert reply.body == "success"
    endpoint = app[ENDPOINT]
    await wait_until(lambda: endpoint.stats.cs_failed == 1)
    await asyncio.sleep(0.2)
    assert fake.calls["custom_send"] == 1  # not retried
    assert "QuotaExceeded" in endpoint.stats.last_cs_error
    stored = await app[CONVERSATION].lookup("msg:2001")
    assert stored is not None and stored.via == VIA_FAILED
    health = await (await wx.client.get("/healthz")).json()
    assert health["wechat"]["cs_failed"] == 1


# ------------------------------------------------------------------------------------- fast path


async def test_cached_answer_is_logged_and_its_retries_answered_once(
    make_bot: BotFactory, migrated_url: str, stub: StubMatcher
) -> None:
    """A question whose answer is cached is still logged, and a retry of its MsgId is answered once,
    with the same reply."""
    app, wx = await make_bot(migrated_url, matcher=stub)
    first = await wx.text(OPENID, "低保怎么申请", msg_id=3001)
    assert first.content == "答：低保怎么申请"
    endpoint = app[ENDPOINT]
    replies = await asyncio.gather(*(wx.text(OPENID, "低保怎么申请", msg_id=3002) for _ in range(3)))
    assert [r.content for r in replies] == ["答：低保怎么申请"] * 3
    assert len(stub.calls) == 1
    assert endpoint.stats.retries == 2
    stored = await app[CONVERSATION].lookup("msg:3002")
    assert stored is not None and stored.via == VIA_PASSIVE
    await app[QUESTION_LOG].flush()
    assert app[QUESTION_LOG].pending == 0


async def test_budget_spent_before_the_answer_means_customer_service_even_when_cached(
    make_bot: BotFactory, migrated_url: str, stub: StubMatcher, platform: tuple[FakePlatform, str]
) -> None:
    fake, _ = platform
    _, wx = await make_bot(migrated_url, matcher=stub, budget=0.0)
    await wx.text(OPENID, "医保怎么报销", msg_id=4001)
    await wait_until(lambda: len(fake.messages_for("custom_send")) == 1)
    reply = await wx.text(OPENID, "医保怎么报销", msg_id=4002)  # cached now, but no budget left
    assert reply.body == "success"
    await wait_until(lambda: len(fake.messages_for("custom_send")) == 2)
    assert len(stub.calls) == 1
