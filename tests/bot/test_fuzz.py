"""Hostile bodies at POST /wechat: zero 5xx, zero unhandled exceptions, and the bot still answers.

Over 10,000 requests: hypothesis-generated mutations of real WeChat messages (truncated and
invalid XML, repeated tags, nested markup in Content, stray bytes, non-UTF-8), random bytes and
random text, in plain and safe (AES) mode, plus hand-made attacks: entity expansion, external
entities, 2 MB bodies, deep nesting, wrong and missing signatures, replayed timestamps.

The bodies are drawn by hypothesis up front (deterministically: ``derandomize``) and then fired
at one running app, so the server state carries over between cases as it would in production.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import ENDPOINT
from tests.bot.conftest import ACCOUNT, AES_KEY, APPID, TOKEN, BotFactory, StubMatcher
from wechat.crypto import Crypto
from wechat.signature import sign
from wechat.testing import build_event_xml, build_text_xml, build_voice_xml, encrypt_for_wechat

PLAIN_DRAWS = 2_200
SAFE_DRAWS = 1_100
VARIANTS = 3
"""Each drawn body is sent as is and as ``VARIANTS - 1`` deterministic truncations of itself."""
CONCURRENCY = 32
OPENID = "oFuzz0000001"

Case = tuple[dict[str, str], bytes]


def signed(ts: str | None = None, nonce: str = "1357924680") -> dict[str, str]:
    ts = ts or str(int(time.time()))
    return {"signature": sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce, "openid": OPENID}


def safe_params(body: str, ts: str | None = None, nonce: str = "2468013579") -> dict[str, str]:
    import re

    ts = ts or str(int(time.time()))
    match = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]></Encrypt>", body, re.S)
    encrypt = match.group(1) if match else ""
    return {
        "signature": sign(TOKEN, ts, nonce),
        "timestamp": ts,
        "nonce": nonce,
        "openid": OPENID,
        "encrypt_type": "aes",
        "msg_signature": sign(TOKEN, ts, nonce, encrypt),
    }


# ------------------------------------------------------------------------------------ strategies

_FRAGMENTS = [
    "<xml>",
    "</xml>",
    "<MsgType>",
    "</MsgType>",
    "<![CDATA[",
    "]]>",
    "<Content>",
    "</Content>",
    "<MsgId>",
    "</MsgId>",
    "&amp;",
    "&lt;",
    "&#0;",
    "&#xD800;",
    "&unknown;",
    "<!DOCTYPE x [<!ENTITY a 'b'>]>",
    "<?xml version='1.0'?>",
    "<!-- c -->",
    "<a b='c'/>",
    "\x00",
    "\ufeff",
    "低保",
    "<Event>subscribe</Event>",
    "<CreateTime>99999999999999999999999</CreateTime>",
]


def _base_message(kind: str, content: str, msg_id: int) -> str:
    if kind == "text":
        return build_text_xml(ACCOUNT, OPENID, content, msg_id=msg_id)
    if kind == "voice":
        return build_voice_xml(ACCOUNT, OPENID, content, msg_id=msg_id)
    return build_event_xml(ACCOUNT, OPENID, content[:20] or "subscribe", content[:10])


@st.composite
def mutated_message(draw: st.DrawFn) -> bytes:
    """A real WeChat message, then broken in one of many ways."""
    kind = draw(st.sampled_from(["text", "voice", "event"]))
    content = draw(st.text(max_size=40))
    msg_id = draw(st.integers(min_value=1, max_value=2**63))
    xml = _base_message(kind, content, msg_id)
    raw = xml.encode("utf-8")
    how = draw(
        st.sampled_from(
            [
                "truncate",
                "flip",
                "insert",
                "repeat_tag",
                "nested_content",
                "gbk",
                "root",
                "fragments",
                "random_bytes",
                "random_text",
                "drop_field",
                "bad_number",
            ]
        )
    )
    if how == "truncate":
        return raw[: draw(st.integers(0, max(0, len(raw) - 1)))]
    if how == "flip":
        pos = draw(st.integers(0, len(raw) - 1))
        return raw[:pos] + bytes([draw(st.integers(0, 255))]) + raw[pos + 1 :]
    if how == "insert":
        pos = draw(st.integers(0, len(raw)))
        return raw[:pos] + draw(st.binary(min_size=1, max_size=16)) + raw[pos:]
    if how == "repeat_tag":
        tag = draw(st.sampled_from(["MsgType", "Content", "FromUserName", "MsgId", "CreateTime", "Event"]))
        return xml.replace("</xml>", f"<{tag}>again</{tag}></xml>").encode()
    if how == "nested_content":
        inner = draw(st.sampled_from(["<b>低保</b>", "<a><b><c/></b></a>", "<Content>x</Content>", "<![CDATA[x]]>"]))
        return xml.replace("<Content><![CDATA[", "<Content>" + inner + "<![CDATA[").encode()
    if how == "gbk":
        return xml.replace("<Content><![CDATA[", "<Content><![CDATA[低保怎么申请").encode("gb18030")
    if how == "root":
        root = draw(st.sampled_from(["root", "XML", "x", "xml:xml"]))
        return xml.replace("<xml>", f"<{root}>").replace("</xml>", f"</{root}>").encode()
    if how == "fragments":
        return "".join(draw(st.lists(st.sampled_from(_FRAGMENTS), max_size=20))).encode("utf-8", "surrogatepass")
    if how == "random_bytes":
        return draw(st.binary(max_size=300))
    if how == "random_text":
        return draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    if how == "drop_field":
        tag = draw(st.sampled_from(["MsgType", "FromUserName", "ToUserName", "CreateTime"]))
        start, end = xml.find(f"<{tag}>"), xml.find(f"</{tag}>")
        return (xml[:start] + xml[end + len(tag) + 3 :]).encode()
    # bad_number
    value = draw(st.sampled_from(["-1", "1e9", "０１２", "", "abc", "9" * 30, "1 2"]))
    return xml.replace(f"<MsgId>{msg_id}</MsgId>", f"<MsgId>{value}</MsgId>").encode()


@st.composite
def safe_case(draw: st.DrawFn) -> Case:
    """Safe mode: broken envelopes, broken ciphertexts, valid encryption of broken plaintexts."""
    crypto = Crypto(TOKEN, AES_KEY, APPID)
    how = draw(st.sampled_from(["garbage_encrypt", "bad_plain", "wrong_appid", "bad_envelope", "no_msg_signature"]))
    if how == "garbage_encrypt":
        encrypt = draw(st.one_of(st.text(alphabet="ABCDEFabcdef0123456789+/=", max_size=120), st.text(max_size=40)))
        body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        return safe_params(body), body.encode("utf-8", "surrogatepass")
    if how == "bad_plain":
        plain = draw(mutated_message()).decode("utf-8", "replace")
        body = encrypt_for_wechat(crypto, plain, to_user=ACCOUNT)
        return safe_params(body), body.encode()
    if how == "wrong_appid":
        other = Crypto(TOKEN, AES_KEY, "wx_other_appid")
        body = encrypt_for_wechat(other, build_text_xml(ACCOUNT, OPENID, "低保"), to_user=ACCOUNT)
        return safe_params(body), body.encode()
    if how == "bad_envelope":
        raw = draw(mutated_message())
        return safe_params(raw.decode("utf-8", "replace")), raw
    body = encrypt_for_wechat(crypto, build_text_xml(ACCOUNT, OPENID, "低保"), to_user=ACCOUNT)
    params = safe_params(body)
    params.pop("msg_signature")
    return params, body.encode()


def variants(body: bytes) -> list[bytes]:
    """``body`` and truncations of it at points derived from its content (deterministic)."""
    out = [body]
    digest = hashlib.sha256(body).digest()
    for i in range(VARIANTS - 1):
        cut = int.from_bytes(digest[i * 4 : i * 4 + 4], "big") % (len(body) + 1)
        out.append(body[:cut])
    return out


def draw_examples(strategy: st.SearchStrategy[Any], n: int) -> list[Any]:
    """``n`` examples of ``strategy``, drawn by hypothesis deterministically."""
    out: list[Any] = []

    @settings(
        max_examples=n,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(example: Any) -> None:
        out.append(example)

    collect()
    return out


# ------------------------------------------------------------------------------- hand-made cases

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
    '<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>'
    "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType><Content>&lol4;</Content><MsgId>1</MsgId></xml>"
)
XXE = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>2</MsgId></xml>"
)
PARAM_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]>'
    "<xml><MsgType>text</MsgType></xml>"
)
QUADRATIC = '<!DOCTYPE x [<!ENTITY a "' + "x" * 10_000 + '">]><xml><Content>' + "&a;" * 2000 + "</Content></xml>"


def hand_made() -> list[Case]:
    now = int(time.time())
    good = build_text_xml(ACCOUNT, OPENID, "低保", msg_id=424242).encode()
    cases: list[Case] = [
        (signed(), BILLION_LAUGHS.encode()),
        (signed(), XXE.encode()),
        (signed(), PARAM_ENTITY.encode()),
        (signed(), QUADRATIC.encode()),
        (signed(), b"<xml>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</xml>"),
        (signed(), b"<xml>" + b"<a>" * 20 + b"</a>" * 20 + b"</xml>"),
        (signed(), b"<xml>" + b"<MsgType>text</MsgType>" * 1000 + b"</xml>"),
        (signed(), b"x" * (2 * 1024 * 1024)),
        (signed(), b"<xml><Content><![CDATA[" + "低".encode() * 700_000 + b"]]></Content></xml>"),
        (signed(), good.replace(b"<Content><![CDATA[", b"<Content><![CDATA[" + b"a" * 70_000)),
        (signed(), good.decode().encode("utf-16")),
        (signed(), "<xml><Content>低保</Content></xml>".encode("gbk")),
        (signed(), b"\xef\xbb\xbf" + good),
        (signed(), good + b"<xml></xml>"),
        (signed(), good + b"trailing"),
        ({}, good),
        ({"signature": "", "timestamp": "", "nonce": ""}, good),
        ({**signed(), "signature": "0" * 40}, good),
        ({**signed(), "signature": sign(TOKEN, str(now), "1357924680").upper()}, good),
        ({**signed(), "timestamp": str(now + 1)}, good),
        ({**signed(), "nonce": "other"}, good),
        (signed(ts="abc", nonce="1"), good),
        (signed(ts=str(now - 3600)), good),
        (signed(ts=str(now + 3600)), good),
        (signed(ts=str(now - 86400 * 365)), good),
        (signed(ts="-1"), good),
        (signed(ts="9" * 40), good),
        (signed(nonce="n" * 300), good),
        (signed(nonce="bad nonce with spaces"), good),
        (signed(nonce="<>&"), good),
        ({**signed(), "encrypt_type": "aes"}, good),
        ({**signed(), "encrypt_type": "weird"}, good),
    ]
    for size in (0, 1, 10, 100):
        cases.append((signed(), b"\x00" * size))
    for replay in range(300):  # replayed timestamps outside the window, all with valid signatures
        cases.append((signed(ts=str(now - 301 - replay * 97)), good))
    for wrong in range(300):  # wrong signatures of every shape
        params = signed()
        params["signature"] = ("%040x" % (wrong * 7919))[:40] if wrong % 3 else "x" * (wrong % 50)
        cases.append((params, good))
    for missing in range(200):
        params = signed()
        for key in list(params)[: 1 + missing % 3]:
            params.pop(key)
        cases.append((params, good))
    return cases


# ------------------------------------------------------------------------------------ the test


@pytest.fixture
def sqlite_db(sqlite_url: str) -> str:
    from core.db import make_engine
    from core.schema import upgrade

    engine = make_engine(sqlite_url)
    upgrade(engine)
    engine.dispose()
    return sqlite_url


async def test_hostile_bodies(make_bot: BotFactory, sqlite_db: str, caplog: pytest.LogCaptureFixture) -> None:
    stub = StubMatcher()
    plain_app, plain = await make_bot(sqlite_db, matcher=stub, safe=False, budget=2.0)
    safe_app, safe = await make_bot(sqlite_db, matcher=stub, safe=True, budget=2.0)

    plain_cases: list[Case] = [
        (signed(), variant) for body in draw_examples(mutated_message(), PLAIN_DRAWS) for variant in variants(body)
    ]
    plain_cases += hand_made()
    safe_cases: list[Case] = [
        (params, variant) for params, body in draw_examples(safe_case(), SAFE_DRAWS) for variant in variants(body)
    ]
    safe_cases += [(params, body) for params, body in hand_made()[:40]]
    assert len(plain_cases) + len(safe_cases) >= 10_000

    statuses: dict[int, int] = {}
    failures: list[str] = []
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def fire(client: Any, params: dict[str, str], body: bytes) -> None:
        async with semaphore:
            data: Any = io.BytesIO(body) if len(body) > 512 * 1024 else body
            try:
                resp = await client.post("/wechat", params=params, data=data)
                await resp.read()
            except Exception as exc:  # the server hung up on us: count it as a failure
                failures.append(f"{type(exc).__name__} for body {body[:60]!r}")
                return
            statuses[resp.status] = statuses.get(resp.status, 0) + 1
            if resp.status >= 500:
                failures.append(f"HTTP {resp.status} for body {body[:60]!r}")

    caplog.set_level(logging.INFO)
    started = time.monotonic()
    await asyncio.gather(*(fire(plain.client, p, b) for p, b in plain_cases))
    await asyncio.gather(*(fire(safe.client, p, b) for p, b in safe_cases))
    elapsed = time.monotonic() - started

    assert not failures, failures[:10]
    assert sum(statuses.values()) >= 10_000
    assert set(statuses) <= {200, 403, 413}, statuses
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors[:5]]
    for app in (plain_app, safe_app):
        assert app[ENDPOINT].stats.errors == 0
    assert elapsed < 120

    # a 2 MB body without Content-Length (chunked): read up to the cap, then refused
    async def chunks() -> Any:
        for _ in range(32):
            yield b"<xml>" + b"y" * 65_536

    resp = await plain.client.post("/wechat", params=signed(), data=chunks())
    assert resp.status == 413

    # the server still answers a valid message, in both modes
    after_plain = await plain.text(OPENID, "低保怎么申请", msg_id=987654321)
    assert after_plain.content == "答：低保怎么申请"
    after_safe = await safe.text(OPENID, "临时救助", msg_id=987654322)
    assert after_safe.content == "答：临时救助"
