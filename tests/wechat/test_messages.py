"""Signatures, AES, parsing and rendering: wechatpy's failure modes all end in InvalidRequest."""

from __future__ import annotations

import base64
import os
import socket
import struct
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from xml.parsers.expat import ExpatError

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st
from wechatpy import parse_message as wechatpy_parse
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import check_signature as wechatpy_check_signature

from core.errors import ConfigError
from wechat.crypto import Crypto, make_crypto
from wechat.errors import BadSignature, InvalidRequest
from wechat.messages import InboundMessage, open_request, parse_message, render_text_reply, seal_reply
from wechat.signature import check_msg_signature, check_signature, sign
from wechat.testing import build_event_xml, build_signed_post, build_text_xml, build_voice_xml, encrypt_for_wechat
from wechat.xml import MAX_XML_BYTES, parse_xml

TOKEN = "cunwu_token"
APPID = "wx1234567890abcdef"
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")  # a real 43-character EncodingAESKey
OPENID = "oVillager_0001"
ACCOUNT = "gh_cunwu"


@pytest.fixture
def crypto() -> Crypto:
    return Crypto(TOKEN, AES_KEY, APPID)


# -- signatures ---------------------------------------------------------------------------------


def test_sign_matches_wechatpy() -> None:
    signature = sign(TOKEN, "1700000000", "12345")
    wechatpy_check_signature(TOKEN, signature, "1700000000", "12345")  # would raise if different
    check_signature(TOKEN, signature, "1700000000", "12345")


@pytest.mark.parametrize(
    ("signature", "timestamp", "nonce"),
    [
        ("0" * 40, "1700000000", "12345"),
        ("", "1700000000", "12345"),
        (None, "1700000000", "12345"),
        ("签名", "1700000000", "12345"),
        (sign(TOKEN, "1700000000", "12345"), "1700000001", "12345"),
        (sign(TOKEN, "1700000000", "12345"), None, "12345"),
        (sign(TOKEN, "1700000000", "12345"), "1700000000", ""),
    ],
)
def test_bad_signature(signature: Any, timestamp: Any, nonce: Any) -> None:
    with pytest.raises(BadSignature):
        check_signature(TOKEN, signature, timestamp, nonce)


def test_signature_needs_a_token() -> None:
    with pytest.raises(ConfigError):
        check_signature("", "x", "1", "2")


def test_msg_signature() -> None:
    good = sign(TOKEN, "1", "2", "ENC")
    check_msg_signature(TOKEN, good, "1", "2", "ENC")
    with pytest.raises(BadSignature):
        check_msg_signature(TOKEN, good, "1", "2", "ENC2")


# -- AES ----------------------------------------------------------------------------------------


def test_crypto_rejects_bad_keys() -> None:
    for key in ["short", AES_KEY[:-1] + "!", "=" * 43]:
        with pytest.raises(ConfigError):
            Crypto(TOKEN, key, APPID)
    assert make_crypto(TOKEN, "", APPID) is None
    assert "***" in repr(make_crypto(TOKEN, AES_KEY, APPID))
    assert AES_KEY not in repr(make_crypto(TOKEN, AES_KEY, APPID))


def test_aes_roundtrip(crypto: Crypto) -> None:
    xml = build_text_xml(ACCOUNT, OPENID, "我家的低保什么时候发？]]>")
    assert crypto.decrypt(crypto.encrypt(xml)) == xml
    assert crypto.encrypt(xml) != crypto.encrypt(xml)  # random prefix


def test_inbound_safe_mode_roundtrip(crypto: Crypto) -> None:
    xml = build_text_xml(ACCOUNT, OPENID, "耕地地力保护补贴")
    params, body = build_signed_post(TOKEN, xml, openid=OPENID, crypto=crypto, to_user=ACCOUNT)
    assert params["encrypt_type"] == "aes" and params["openid"] == OPENID
    assert "<Encrypt>" in body and "耕地" not in body
    check_signature(TOKEN, params["signature"], params["timestamp"], params["nonce"])
    assert open_request(params, body.encode(), crypto=crypto) == parse_message(xml)
    # wechatpy agrees with our envelope and signature
    plain = WeChatCrypto(TOKEN, AES_KEY, APPID).decrypt_message(
        body, params["msg_signature"], params["timestamp"], params["nonce"]
    )
    assert plain == xml


def test_reply_roundtrip_and_wechatpy_interop(crypto: Crypto) -> None:
    reply = render_text_reply(OPENID, ACCOUNT, "您好", create_time=1700000000)
    envelope = seal_reply(reply, crypto=crypto, nonce="98765", timestamp="1700000000")
    assert crypto.decrypt_reply(envelope) == reply
    theirs = WeChatCrypto(TOKEN, AES_KEY, APPID).encrypt_message(reply, "98765", "1700000000")
    assert crypto.decrypt_reply(theirs) == reply
    assert seal_reply("success", crypto=crypto, nonce="1") == "success"
    assert seal_reply("", crypto=crypto, nonce="1") == ""
    assert seal_reply(reply, crypto=None, nonce="1") == reply


@pytest.mark.parametrize("size", [0, 1, 11, 12, 13, 31, 32, 33, 44, 45, 64, 500, 2048])
def test_aes_interop_with_wechatpy_at_every_padding(crypto: Crypto, size: int) -> None:
    """Our ciphertext opens with wechatpy's PrpCrypto and theirs with ours, across the 32-byte padding
    boundaries (header 20 bytes + appid 18: a text of 26 bytes fills whole blocks exactly)."""
    key = base64.b64decode(AES_KEY + "=")
    for text in ("a" * size, "村" * (size // 3 + 1)):
        assert PrpCrypto(key).decrypt(crypto.encrypt(text), APPID) == text
        assert crypto.decrypt(PrpCrypto(key).encrypt(text, APPID).decode()) == text
    assert PrpCrypto(key).decrypt(crypto.encrypt("x" * 26), APPID) == "x" * 26


def test_ciphers_stay_correct_through_bad_input_and_threads(crypto: Crypto) -> None:
    """Encryption and decryption agree with wechatpy's after undecryptable input of every kind and
    from several threads at once."""
    key = base64.b64decode(AES_KEY + "=")
    prp = PrpCrypto(key)
    junk = [base64.b64encode(b"\x00" * 48).decode(), base64.b64encode(b"x" * 17).decode(), "@@@", "QUJD"]
    for n in range(40):
        text = "村务" * n
        for bad in junk:
            with pytest.raises(InvalidRequest):
                crypto.decrypt(bad)
        assert prp.decrypt(crypto.encrypt(text), APPID) == text
        assert crypto.decrypt(prp.encrypt(text, APPID).decode()) == text

    def work(worker: int) -> list[str]:
        out = []
        for n in range(200):
            text = f"{worker}-{n}-" + "公开" * (n % 37)
            out.append(crypto.decrypt(prp.encrypt(text, APPID).decode()))
            assert prp.decrypt(crypto.encrypt(text), APPID) == text
        return out

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(work, range(4)))
    assert results == [[f"{w}-{n}-" + "公开" * (n % 37) for n in range(200)] for w in range(4)]


def test_envelopes_interoperate_with_wechatpy_crypto(crypto: Crypto) -> None:
    """Our encrypted reply is opened by wechatpy's WeChatCrypto, and its encrypted message by us."""
    theirs = WeChatCrypto(TOKEN, AES_KEY, APPID)
    reply = render_text_reply(OPENID, ACCOUNT, "您好，低保每月 10 日发放。]]>", create_time=1700000000)
    envelope = crypto.encrypt_message(reply, "424242", "1700000000")
    fields = parse_xml(envelope)
    assert theirs.decrypt_message(envelope, fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"]) == reply
    # what WeChat posts, sealed by wechatpy: the Encrypt of its envelope, under the query's signatures
    xml = build_text_xml(ACCOUNT, OPENID, "耕地地力保护补贴什么时候发", msg_id=99)
    sealed = parse_xml(theirs.encrypt_message(xml, "31337", "1700000000"))
    body = (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{sealed['Encrypt']}]]></Encrypt></xml>"
    )
    query = {
        "signature": sign(TOKEN, "1700000000", "31337"),
        "timestamp": "1700000000",
        "nonce": "31337",
        "encrypt_type": "aes",
        "msg_signature": sealed["MsgSignature"],
    }
    check_signature(TOKEN, query["signature"], query["timestamp"], query["nonce"])
    msg = open_request(query, body.encode(), crypto=crypto)
    assert (msg.content, msg.msg_id, msg.from_user) == ("耕地地力保护补贴什么时候发", 99, OPENID)
    assert open_request(query, body, crypto=crypto) == msg == parse_message(xml)
    with pytest.raises(BadSignature):
        open_request({**query, "msg_signature": "0" * 40}, body, crypto=crypto)
    with pytest.raises(InvalidRequest):
        open_request({k: v for k, v in query.items() if k != "encrypt_type"}, body, crypto=crypto)
    with pytest.raises(InvalidRequest):
        open_request(query, body, crypto=None)


def test_open_request_plain_mode() -> None:
    xml = build_event_xml(ACCOUNT, OPENID, "subscribe")
    params, body = build_signed_post(TOKEN, xml, openid=OPENID)
    assert "encrypt_type" not in params and body == xml
    check_signature(TOKEN, params["signature"], params["timestamp"], params["nonce"])
    assert open_request(params, body, crypto=None) == parse_message(xml)


def test_open_request_mode_mismatch(crypto: Crypto) -> None:
    xml = build_text_xml(ACCOUNT, OPENID, "hi")
    plain_params, plain_body = build_signed_post(TOKEN, xml, openid=OPENID)
    with pytest.raises(InvalidRequest):
        open_request(plain_params, plain_body, crypto=crypto)
    enc_params, enc_body = build_signed_post(TOKEN, xml, openid=OPENID, crypto=crypto)
    with pytest.raises(InvalidRequest):
        open_request(enc_params, enc_body, crypto=None)
    with pytest.raises(BadSignature):
        open_request({**enc_params, "msg_signature": "0" * 40}, enc_body, crypto=crypto)


def test_signed_post_shape(crypto: Crypto) -> None:
    params, body = build_signed_post(TOKEN, "<xml/>", openid=OPENID, crypto=crypto, timestamp="1", nonce="2")
    assert set(params) == {"signature", "timestamp", "nonce", "openid", "encrypt_type", "msg_signature"}
    assert params["signature"] == sign(TOKEN, "1", "2")
    assert params["msg_signature"] == sign(TOKEN, "1", "2", parse_xml(body)["Encrypt"])


# -- wechatpy failure modes, each wrapped into InvalidRequest -----------------------------------

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
    "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType><Content>&lol2;</Content></xml>"
)
XXE = (
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType><Content>&xxe;</Content></xml>"
)
BASE = "<ToUserName>gh</ToUserName><FromUserName>o1</FromUserName><CreateTime>1</CreateTime>"

# (case, input, the exception wechatpy 1.8.18 raises on it)
PARSE_CASES: list[tuple[str, str | bytes, type[BaseException] | tuple[type[BaseException], ...]]] = [
    ("broken xml", "<xml><MsgType>text</MsgType>", ExpatError),
    ("wrong root", "<root><MsgType>text</MsgType></root>", KeyError),
    ("no MsgType", f"<xml>{BASE}</xml>", KeyError),
    ("repeated tag", f"<xml>{BASE}<MsgType>text</MsgType><MsgType>event</MsgType></xml>", AttributeError),
    (
        "not utf-8",
        f"<xml>{BASE}<MsgType>text</MsgType><Content>".encode() + b"\xff\xfe</Content></xml>",
        UnicodeDecodeError,
    ),
    ("entities", BILLION_LAUGHS, ValueError),
    ("xxe", XXE, ValueError),
]


@pytest.mark.parametrize(("case", "data", "theirs"), PARSE_CASES, ids=[c[0] for c in PARSE_CASES])
def test_wechatpy_parse_failures_are_wrapped(case: str, data: str | bytes, theirs: Any) -> None:
    with pytest.raises(theirs):
        wechatpy_parse(data)
    with pytest.raises(InvalidRequest):
        parse_message(data)


def test_nested_content_is_rejected() -> None:
    data = f"<xml>{BASE}<MsgType>text</MsgType><Content><b>bold</b></Content><MsgId>1</MsgId></xml>"
    assert isinstance(wechatpy_parse(data).content, dict)  # wechatpy hands back a dict
    with pytest.raises(InvalidRequest):
        parse_message(data)


def test_deep_nesting_is_rejected_quickly() -> None:
    depth = 5000
    data = "<xml>" + "<a>" * depth + "</a>" * depth + "</xml>"
    assert len(data) < MAX_XML_BYTES
    with pytest.raises(InvalidRequest, match="格式"):
        parse_message(data)
    huge = "<xml>" + "<a>" * 100_000 + "</a>" * 100_000 + "</xml>"
    with pytest.raises(InvalidRequest, match="过大"):
        parse_message(huge)


@pytest.mark.parametrize(
    "data",
    [
        "",
        b"",
        "<xml></xml>",
        f"<xml>{BASE}<MsgType><x/></MsgType></xml>",
        f"<xml>{BASE}<MsgType>event</MsgType></xml>",  # event without Event
        f"<xml>{BASE}<MsgType>text</MsgType><MsgId>12ab</MsgId></xml>",
        f"<xml>{BASE.replace('<CreateTime>1', '<CreateTime>-1')}<MsgType>text</MsgType></xml>",
        "<xml>text<a>1</a></xml>",
        "<xml>&undefined;</xml>",
        "\ud800",
        12345,
        None,
    ],
)
def test_other_bad_input(data: Any) -> None:
    with pytest.raises(InvalidRequest):
        parse_message(data)


def _raw_encrypt(plaintext: bytes) -> str:
    key = base64.b64decode(AES_KEY + "=")
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(plaintext) + enc.finalize()).decode()


def _pad(data: bytes) -> bytes:
    n = 32 - len(data) % 32
    return data + bytes([n]) * n


DECRYPT_CASES: list[tuple[str, str | None, type[BaseException]]] = [
    ("empty Encrypt", "", IndexError),
    ("no Encrypt", None, KeyError),
    ("padding eats the header", _raw_encrypt(os.urandom(16) + bytes([16]) * 16), struct.error),
    (
        "not utf-8 inside",
        _raw_encrypt(_pad(os.urandom(16) + struct.pack("I", socket.htonl(2)) + b"\xff\xfe" + APPID.encode())),
        UnicodeDecodeError,
    ),
    (
        "other appid",
        PrpCrypto(base64.b64decode(AES_KEY + "=")).encrypt("<xml/>", "wxOTHER").decode(),
        InvalidAppIdException,
    ),
    ("length not a block", base64.b64encode(b"12345").decode(), ValueError),
]


@pytest.mark.parametrize(("case", "encrypt", "theirs"), DECRYPT_CASES, ids=[c[0] for c in DECRYPT_CASES])
def test_wechatpy_decrypt_failures_are_wrapped(crypto: Crypto, case: str, encrypt: str | None, theirs: Any) -> None:
    body = "<xml><ToUserName>gh</ToUserName></xml>" if encrypt is None else f"<xml><Encrypt>{encrypt}</Encrypt></xml>"
    sig = sign(TOKEN, "1", "2", encrypt or "")
    with pytest.raises(theirs):
        WeChatCrypto(TOKEN, AES_KEY, APPID).decrypt_message(body, sig, "1", "2")
    with pytest.raises(InvalidRequest):
        crypto.decrypt_message(body, sig, "1", "2")


def test_wechatpy_signature_error_becomes_bad_signature(crypto: Crypto) -> None:
    body = encrypt_for_wechat(crypto, "<xml/>", to_user=ACCOUNT)
    with pytest.raises(InvalidSignatureException):
        WeChatCrypto(TOKEN, AES_KEY, APPID).decrypt_message(body, "0" * 40, "1", "2")
    with pytest.raises(BadSignature):
        crypto.decrypt_message(body, "0" * 40, "1", "2")


# -- parsing ------------------------------------------------------------------------------------


def test_parse_text() -> None:
    msg = parse_message(build_text_xml(ACCOUNT, OPENID, "低保怎么申请", create_time=1700000000, msg_id=42).encode())
    assert isinstance(msg, InboundMessage)
    assert (msg.msg_type, msg.event, msg.from_user, msg.to_user) == ("text", "", OPENID, ACCOUNT)
    assert (msg.create_time, msg.msg_id, msg.content, msg.text) == (1700000000, 42, "低保怎么申请", "低保怎么申请")
    assert msg.dedupe_key == "msg:42"
    assert msg.raw["Content"] == "低保怎么申请"


def test_parse_voice_and_events() -> None:
    voice = parse_message(build_voice_xml(ACCOUNT, OPENID, "医保缴费"))
    assert (voice.msg_type, voice.recognition, voice.text, voice.content) == ("voice", "医保缴费", "医保缴费", "")
    sub = parse_message(build_event_xml(ACCOUNT, OPENID, "subscribe", create_time=5))
    assert (sub.msg_type, sub.event, sub.msg_id) == ("event", "subscribe", None)
    assert sub.dedupe_key == f"evt:{OPENID}:5:subscribe"
    click = parse_message(build_event_xml(ACCOUNT, OPENID, "CLICK", "MENU_POLICY"))
    assert (click.event, click.event_key) == ("click", "MENU_POLICY")


def test_parse_unknown_type_and_nested_extras() -> None:
    data = (
        f"<xml>{BASE}<MsgType>event</MsgType><Event>pic_sysphoto</Event><SendPicsInfo><Count>2</Count>"
        "<PicList><item><PicMd5Sum>a</PicMd5Sum></item><item><PicMd5Sum>b</PicMd5Sum></item></PicList>"
        "</SendPicsInfo></xml>"
    )
    msg = parse_message(data)
    assert msg.event == "pic_sysphoto"
    assert msg.raw["SendPicsInfo"]["PicList"]["item"] == [{"PicMd5Sum": "a"}, {"PicMd5Sum": "b"}]


# -- rendering ----------------------------------------------------------------------------------


@pytest.mark.parametrize("content", ["普通回复", "a]]>b", "]]>]]>", "<xml>&amp;</xml>", "bell\x07 nul\x00 ok", ""])
def test_render_text_reply_is_cdata_safe(content: str) -> None:
    xml = render_text_reply(OPENID, ACCOUNT, content, create_time=1700000000)
    parsed = parse_message(xml)
    assert parsed.content == content.replace("\x07", "").replace("\x00", "")
    assert (parsed.to_user, parsed.from_user, parsed.msg_type) == (OPENID, ACCOUNT, "text")
    assert (wechatpy_parse(xml).content or "") == parsed.content  # wechatpy reads it the same way


# -- fuzzing ------------------------------------------------------------------------------------

TAGS = ["ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId", "Event", "EventKey", "a"]
xml_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@st.composite
def xml_documents(draw: st.DrawFn) -> str:
    def element(depth: int) -> str:
        tag = draw(st.sampled_from(TAGS))
        if depth < 4 and draw(st.booleans()):
            inner = "".join(element(depth + 1) for _ in range(draw(st.integers(0, 3))))
        else:
            raw = draw(xml_text)
            inner = draw(st.sampled_from([raw, f"<![CDATA[{raw}]]>", raw.replace("&", "&amp;").replace("<", "&lt;")]))
        return f"<{tag}>{inner}</{tag}>"

    root = draw(st.sampled_from(["xml", "xml", "xml", "root"]))
    body = "".join(element(1) for _ in range(draw(st.integers(0, 8))))
    return f"<{root}>{body}</{root}>"


def _only_invalid_request(data: Any) -> None:
    try:
        msg = parse_message(data)
    except InvalidRequest:
        return
    assert isinstance(msg.content, str) and isinstance(msg.from_user, str) and isinstance(msg.event_key, str)
    repr(msg)


@settings(deadline=None)
@given(st.binary(max_size=500))
def test_fuzz_random_bytes(data: bytes) -> None:
    _only_invalid_request(data)


@settings(deadline=None)
@given(st.text(max_size=300))
def test_fuzz_random_text(data: str) -> None:
    _only_invalid_request(data)
    _only_invalid_request("<xml>" + data + "</xml>")


@settings(deadline=None)
@given(xml_documents())
def test_fuzz_structured_xml(data: str) -> None:
    _only_invalid_request(data)
    _only_invalid_request(data.encode("utf-8", "surrogatepass"))


@settings(deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=200))
def test_fuzz_text_roundtrip(content: str) -> None:
    import re

    expected = re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", "", content)
    assert parse_message(build_text_xml(ACCOUNT, OPENID, content)).content == expected


@settings(deadline=None)
@given(st.binary(max_size=300), st.text(max_size=100))
def test_fuzz_decrypt(data: bytes, encrypt: str) -> None:
    crypto = Crypto(TOKEN, AES_KEY, APPID)
    for body in (data, f"<xml><Encrypt>{encrypt}</Encrypt></xml>"):
        sig = sign(TOKEN, "1", "2", encrypt)
        try:
            crypto.decrypt_message(body, sig, "1", "2")
        except InvalidRequest:
            pass
