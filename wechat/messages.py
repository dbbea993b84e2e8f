"""Pure helpers for the messages WeChat posts to the bot and the replies it sends back.

Signatures are compared in constant time (wechatpy uses ``!=``). AES is WeChat's message format
(as wechatpy's ``PrpCrypto``, and interoperable with it) on ``cryptography`` directly, one cipher
object per :class:`Crypto`, with every failure wrapped into :class:`~wechat.errors.InvalidRequest`.
XML is parsed by a small expat-based reader of our own instead of xmltodict: it refuses DOCTYPEs
(entity tricks), repeated top-level tags, deep nesting and oversized bodies, and only ever raises
``InvalidRequest``.

Inbound path (the bot)::

    msg = read_request(query, body, token=settings.wechat_token, crypto=crypto_or_none)
    reply = render_text_reply(msg.from_user, msg.to_user, "您好")
    return seal_reply(reply, crypto=crypto_or_none, nonce=query["nonce"])

(:func:`read_request` is :func:`check_signature` followed by :func:`open_request`; a server that
checks the signature before reading the body calls the two itself, each signature computed once.
:func:`verify_request` returns the plain XML instead of the parsed message.)

URL verification (GET): ``return verify_echo(query, token=settings.wechat_token)``.

The builders (``build_*_xml``, :func:`sign_request_params`, :func:`encrypt_for_wechat`,
:func:`build_signed_post`) produce what WeChat itself would send; tests and ``cunwu chat`` use them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.parsers import expat

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from core.errors import ConfigError
from wechat.errors import BadSignature, InvalidRequest

MAX_XML_BYTES = 64 * 1024
"""Inbound XML larger than this is refused (WeChat's own messages are a few KiB at most)."""
MAX_DEPTH = 8
"""Deepest element nesting accepted (``xml > SendPicsInfo > PicList > item > PicMd5Sum`` is 5)."""
MAX_ELEMENTS = 512
MAX_FIELD_CHARS = 16 * 1024

_ID_FIELD_CHARS = 256
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")
# Characters XML 1.0 cannot carry at all; removed from anything we render.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# ---------------------------------------------------------------------------------------------
# Signatures


def sign(token: str, timestamp: str, nonce: str, encrypt: str | None = None) -> str:
    """WeChat's SHA-1 signature: the parts sorted (as bytes), concatenated, hashed, hex."""
    parts = [token, timestamp, nonce] if encrypt is None else [token, timestamp, nonce, encrypt]
    raw = sorted(p.encode("utf-8") for p in parts)
    return hashlib.sha1(b"".join(raw)).hexdigest()


def _compare(expected: str, given: object) -> bool:
    if not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace"))


def _require_str(value: object, name: str) -> str:
    if not isinstance(value, str) or not value or len(value) > _ID_FIELD_CHARS:
        raise BadSignature(detail=f"missing or malformed {name}")
    return value


def check_signature(token: str, signature: str | None, timestamp: str | None, nonce: str | None) -> None:
    """Check the ``signature`` query parameter (raises :class:`BadSignature`; constant time)."""
    if not token:
        raise ConfigError("未设置 CUNWU_WECHAT_TOKEN，无法校验微信签名")
    ts = _require_str(timestamp, "timestamp")
    nc = _require_str(nonce, "nonce")
    if not _compare(sign(token, ts, nc), signature):
        raise BadSignature()


def check_msg_signature(
    token: str, msg_signature: str | None, timestamp: str | None, nonce: str | None, encrypt: str
) -> None:
    """Check the safe-mode ``msg_signature`` over token, timestamp, nonce and the Encrypt value."""
    if not token:
        raise ConfigError("未设置 CUNWU_WECHAT_TOKEN，无法校验微信签名")
    ts = _require_str(timestamp, "timestamp")
    nc = _require_str(nonce, "nonce")
    if not _compare(sign(token, ts, nc, encrypt), msg_signature):
        raise BadSignature()


# ---------------------------------------------------------------------------------------------
# Safe XML reading


class _Refused(Exception):
    pass


@dataclass
class _Node:
    tag: str
    children: list[tuple[str, Any]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)


def _to_text(data: str | bytes) -> str:
    if isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
        if len(raw) > MAX_XML_BYTES:
            raise InvalidRequest("微信消息过大", detail=f"{len(raw)} bytes")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidRequest("微信消息不是 UTF-8 编码", detail=str(exc)) from exc
    if isinstance(data, str):
        if len(data) > MAX_XML_BYTES:  # characters ≤ bytes, so this is a cheap first bound
            raise InvalidRequest("微信消息过大", detail=f"{len(data)} characters")
        try:
            size = len(data.encode("utf-8"))
        except UnicodeEncodeError as exc:  # lone surrogates
            raise InvalidRequest("微信消息含有无效字符", detail=str(exc)) from exc
        if size > MAX_XML_BYTES:
            raise InvalidRequest("微信消息过大", detail=f"{size} bytes")
        return data
    raise InvalidRequest("微信消息类型错误", detail=type(data).__name__)


# The shape of nearly every document WeChat posts and we parse: ``<xml>`` holding leaf elements, each
# one CDATA section or plain text without markup, entities or carriage returns. Read field by field
# with anchored patterns (linear in the length of any input).
_FLAT_OPEN = re.compile(r"[ \t\n]*<xml>")
_FLAT_FIELD = re.compile(
    r"[ \t\n]*<([A-Za-z_][A-Za-z0-9_]*)>"  # <Tag>
    r"(?:<!\[CDATA\[([^\]]*(?:\](?!\]>)[^\]]*)*)\]\]>|([^<&\r]*))"  # one CDATA section, or plain text
    r"</([A-Za-z_][A-Za-z0-9_]*)>"  # </Tag>
)
_FLAT_MAX_CHARS = 16 * 1024  # WeChat's messages are a few KiB; a larger document goes to expat
_FLAT_CLOSE = re.compile(r"[ \t\n]*</xml>[ \t\n]*")


def _parse_flat(text: str) -> dict[str, Any] | None:
    """:func:`parse_xml` of a flat document without a parser; ``None`` for anything else, or anything
    doubtful: that goes to the parser, which gives the same dict or refuses it.

    For the documents it accepts this gives exactly what the parser gives (a property test compares
    the two): each field's CDATA text or plain text; whitespace between elements ignored.
    """
    if len(text) > _FLAT_MAX_CHARS:
        return None
    opening = _FLAT_OPEN.match(text)
    if opening is None or "\r" in text or _XML_ILLEGAL.search(text):
        return None  # (the parser normalises line ends and refuses illegal characters)
    out: dict[str, Any] = {}
    pos = opening.end()
    while (field_ := _FLAT_FIELD.match(text, pos)) is not None:
        tag, in_cdata, plain, closing = field_.groups()
        value = in_cdata if in_cdata is not None else plain
        if closing != tag or tag in out or (plain is not None and "]]>" in plain):
            return None  # mismatched, repeated, or "]]>" in text: the parser says what is wrong
        out[tag] = value
        pos = field_.end()
    if _FLAT_CLOSE.fullmatch(text, pos) is None or len(out) >= MAX_ELEMENTS:
        return None
    return out


def parse_xml(data: str | bytes) -> dict[str, Any]:
    """Read ``<xml>…</xml>`` into a dict: leaf → str, nested element → dict, repeated nested tag → list.

    Refuses (``InvalidRequest``): non-UTF-8 bytes, bodies over :data:`MAX_XML_BYTES`, any DOCTYPE
    or entity declaration, a root other than ``xml``, a repeated top-level tag, nesting deeper
    than :data:`MAX_DEPTH`, more than :data:`MAX_ELEMENTS` elements, text mixed with elements.

    A flat document (every field a leaf: what WeChat posts, and the safe-mode envelope) is read by
    two regular expressions; anything else by expat.
    """
    text = _to_text(data)
    flat = _parse_flat(text)
    return flat if flat is not None else _parse_expat(text)


def _parse_expat(text: str) -> dict[str, Any]:
    """:func:`parse_xml` by expat, for any document."""
    stack: list[_Node] = []
    result: dict[str, Any] = {}
    count = 0

    def start(tag: str, _attrs: Any) -> None:
        nonlocal count
        count += 1
        if count > MAX_ELEMENTS:
            raise _Refused("too many elements")
        if len(stack) >= MAX_DEPTH:
            raise _Refused("nested too deeply")
        if not stack and tag != "xml":
            raise _Refused(f"root element is <{tag[:40]}>, not <xml>")
        stack.append(_Node(tag))

    def end(_tag: str) -> None:
        node = stack.pop()
        if node.children:
            if "".join(node.text).strip():
                raise _Refused(f"text mixed with elements in <{node.tag[:40]}>")
            value: Any = {}
            for tag, child in node.children:
                if tag in value:
                    if not stack:  # top-level fields must be unique
                        raise _Refused(f"repeated tag <{tag[:40]}>")
                    if not isinstance(value[tag], list):
                        value[tag] = [value[tag]]
                    value[tag].append(child)
                else:
                    value[tag] = child
        else:
            value = "".join(node.text)
        if stack:
            stack[-1].children.append((node.tag, value))
        else:
            result["xml"] = value if isinstance(value, dict) else {}

    def chars(data: str) -> None:
        if stack:
            stack[-1].text.append(data)

    def refuse(*_args: Any) -> Any:
        raise _Refused("DOCTYPE and entity declarations are not allowed")

    parser = expat.ParserCreate(encoding="utf-8")
    parser.buffer_text = True
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(text, True)
    except _Refused as exc:
        raise InvalidRequest("微信消息格式不正确", detail=str(exc)) from None
    except expat.ExpatError as exc:
        raise InvalidRequest("微信消息不是有效的 XML", detail=str(exc)) from None
    except (ValueError, UnicodeError, OverflowError, RecursionError) as exc:  # defensive
        raise InvalidRequest("微信消息不是有效的 XML", detail=type(exc).__name__) from None
    if "xml" not in result:
        raise InvalidRequest("微信消息不是有效的 XML", detail="no <xml> root")
    root: dict[str, Any] = result["xml"]
    return root


# ---------------------------------------------------------------------------------------------
# Inbound messages


@dataclass(frozen=True)
class InboundMessage:
    """One message or event from a villager, already validated.

    ``msg_type`` and ``event`` are lower-case (``"text"``, ``"voice"``, ``"event"``;
    ``"subscribe"``, ``"unsubscribe"``, ``"click"`` …; ``event`` is ``""`` for plain messages).
    String fields are always ``str`` (``""`` when absent). ``msg_id`` is ``None`` for events,
    which WeChat deduplicates by ``from_user`` + ``create_time`` (see :attr:`dedupe_key`).
    """

    msg_type: str
    event: str
    from_user: str
    to_user: str
    create_time: int
    msg_id: int | None
    content: str
    recognition: str
    event_key: str
    raw: dict[str, Any] = field(compare=False, hash=False, repr=False)

    @property
    def dedupe_key(self) -> str:
        """MsgId for messages, FromUserName + CreateTime for events (WeChat's retry rule)."""
        if self.msg_id is not None:
            return f"msg:{self.msg_id}"
        return f"evt:{self.from_user}:{self.create_time}:{self.event}"

    @property
    def text(self) -> str:
        """What the villager said: the text, or the speech recognition of a voice message."""
        return self.content if self.msg_type == "text" else self.recognition


def _field(raw: Mapping[str, Any], name: str, *, required: bool = False, limit: int = MAX_FIELD_CHARS) -> str:
    value = raw.get(name)
    if value is None:
        if required:
            raise InvalidRequest("微信消息缺少字段", detail=name)
        return ""
    if not isinstance(value, str):
        raise InvalidRequest("微信消息字段格式不正确", detail=f"{name} is not plain text")
    if len(value) > limit:
        raise InvalidRequest("微信消息字段过长", detail=name)
    if required and not value.strip():
        raise InvalidRequest("微信消息缺少字段", detail=name)
    return value


def _int_field(raw: Mapping[str, Any], name: str, *, required: bool) -> int | None:
    value = _field(raw, name, required=required, limit=20).strip()
    if not value:
        return None
    if not value.isascii() or not value.isdigit():
        raise InvalidRequest("微信消息字段格式不正确", detail=f"{name} is not a number")
    return int(value)


def parse_message(xml: str | bytes) -> InboundMessage:
    """Parse the (decrypted) XML WeChat posted. Raises only :class:`InvalidRequest`."""
    return message_from_fields(parse_xml(xml))


def message_from_fields(raw: dict[str, Any]) -> InboundMessage:
    """The message in fields read by :func:`parse_xml`. Raises only :class:`InvalidRequest`."""
    try:
        msg_type = _field(raw, "MsgType", required=True, limit=64).strip().lower()
        event = ""
        if msg_type == "event":
            event = _field(raw, "Event", required=True, limit=64).strip().lower()
        create_time = _int_field(raw, "CreateTime", required=True)
        return InboundMessage(
            msg_type=msg_type,
            event=event,
            from_user=_field(raw, "FromUserName", required=True, limit=_ID_FIELD_CHARS).strip(),
            to_user=_field(raw, "ToUserName", required=True, limit=_ID_FIELD_CHARS).strip(),
            create_time=create_time or 0,
            msg_id=_int_field(raw, "MsgId", required=False),
            content=_field(raw, "Content"),
            recognition=_field(raw, "Recognition"),
            event_key=_field(raw, "EventKey", limit=1024),
            raw=raw,
        )
    except InvalidRequest:
        raise
    except Exception as exc:  # a last line of defence: callers catch one type
        raise InvalidRequest("无法解析微信消息", detail=type(exc).__name__) from exc


# ---------------------------------------------------------------------------------------------
# Rendering


def cdata(value: str) -> str:
    """``value`` as CDATA: XML-illegal characters removed, ``]]>`` split across two sections."""
    clean = _XML_ILLEGAL.sub("", value)
    return "<![CDATA[" + clean.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _now() -> int:
    return int(time.time())


def render_text_reply(to_user: str, from_user: str, content: str, create_time: int | None = None) -> str:
    """A passive text reply. ``to_user`` is the villager's openid, ``from_user`` the account id."""
    return (
        "<xml>"
        f"<ToUserName>{cdata(to_user)}</ToUserName>"
        f"<FromUserName>{cdata(from_user)}</FromUserName>"
        f"<CreateTime>{int(create_time if create_time is not None else _now())}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{cdata(content)}</Content>"
        "</xml>"
    )


def _random_msg_id() -> int:
    return secrets.randbelow(2**62) + 2**62


def _inbound(to_user: str, from_user: str, create_time: int | None, body: str) -> str:
    return (
        "<xml>"
        f"<ToUserName>{cdata(to_user)}</ToUserName>"
        f"<FromUserName>{cdata(from_user)}</FromUserName>"
        f"<CreateTime>{int(create_time if create_time is not None else _now())}</CreateTime>"
        f"{body}</xml>"
    )


def build_text_xml(
    to_user: str, from_user: str, content: str, *, create_time: int | None = None, msg_id: int | None = None
) -> str:
    """The XML WeChat posts for a text message (``to_user`` = account id, ``from_user`` = openid)."""
    mid = msg_id if msg_id is not None else _random_msg_id()
    return _inbound(
        to_user,
        from_user,
        create_time,
        f"<MsgType><![CDATA[text]]></MsgType><Content>{cdata(content)}</Content><MsgId>{mid}</MsgId>",
    )


def build_voice_xml(
    to_user: str,
    from_user: str,
    recognition: str,
    *,
    create_time: int | None = None,
    msg_id: int | None = None,
    media_id: str = "fake_voice_media_id",
) -> str:
    """The XML for a voice message with WeChat's speech ``Recognition``."""
    mid = msg_id if msg_id is not None else _random_msg_id()
    return _inbound(
        to_user,
        from_user,
        create_time,
        "<MsgType><![CDATA[voice]]></MsgType>"
        f"<MediaId>{cdata(media_id)}</MediaId><Format><![CDATA[amr]]></Format>"
        f"<Recognition>{cdata(recognition)}</Recognition><MsgId>{mid}</MsgId>",
    )


def build_event_xml(to_user: str, from_user: str, event: str, key: str = "", *, create_time: int | None = None) -> str:
    """The XML for an event: ``subscribe``, ``unsubscribe``, ``CLICK`` (menu, with ``key``) …"""
    return _inbound(
        to_user,
        from_user,
        create_time,
        f"<MsgType><![CDATA[event]]></MsgType><Event>{cdata(event)}</Event><EventKey>{cdata(key)}</EventKey>",
    )


# ---------------------------------------------------------------------------------------------
# AES (safe mode)


_BLOCK = 32
"""WeChat pads to 32 bytes (PKCS#7 with a 32-byte block), not AES's 16."""


def _random_prefix() -> bytes:
    """The 16 random bytes before the message (WeChat skips them): one ``os.urandom`` call, 96 bits."""
    return secrets.token_urlsafe(12).encode("ascii")


def _simple_token(value: str, name: str) -> str:
    if not isinstance(value, str) or not _TOKEN_RE.match(value):
        raise InvalidRequest("微信请求参数格式不正确", detail=name)
    return value


class _CbcChain:
    """AES-256-CBC with WeChat's fixed IV (the key's first 16 bytes), on two long-lived cipher contexts.

    Making a context per message (key schedule, OpenSSL allocations) costs more than encrypting a
    reply. A CBC context carries its chaining block from one ``update`` to the next, so one context
    can serve every message once the chain is steered back to the IV first:

    - decrypting, the IV itself is fed as a ciphertext block: its output is discarded, and the next
      block is decrypted against the IV, exactly as a fresh context would;
    - encrypting, one block ``D(IV) XOR last`` is fed first (``last``: the context's chaining block,
      the last ciphertext block it produced); it encrypts to the IV itself, which is discarded.

    Only whole blocks are fed, so no context ever holds a partial block; a lock keeps each message's
    blocks together (the bot calls this from the event loop, tests and tools from anywhere).
    """

    _SIZE = 16

    def __init__(self, key: bytes) -> None:
        self._iv = key[: self._SIZE]
        self._lock = threading.Lock()
        cipher = Cipher(algorithms.AES(key), modes.CBC(self._iv))
        self._encryptor = cipher.encryptor()
        self._decryptor = cipher.decryptor()
        # D(IV): the block that encrypts to the IV from a zero chaining block
        ecb = Cipher(algorithms.AES(key), modes.ECB()).decryptor()
        self._iv_preimage = int.from_bytes(ecb.update(self._iv) + ecb.finalize(), "big")
        self._last = self._iv  # the encryptor's chaining block

    def encrypt(self, data: bytes) -> bytes:
        if len(data) % self._SIZE:
            raise ValueError("not whole blocks")
        with self._lock:
            steer = (self._iv_preimage ^ int.from_bytes(self._last, "big")).to_bytes(self._SIZE, "big")
            out = self._encryptor.update(steer + data)
            self._last = out[-self._SIZE :]
        return out[self._SIZE :]

    def decrypt(self, sealed: bytes) -> bytes:
        if not sealed or len(sealed) % self._SIZE:
            raise ValueError("not whole blocks")
        with self._lock:
            out = self._decryptor.update(self._iv + sealed)
        return out[self._SIZE :]


class Crypto:
    """WeChat's AES-256-CBC message encryption for one account (``EncodingAESKey`` of 43 chars)."""

    def __init__(self, token: str, aes_key: str, appid: str) -> None:
        if not token or not appid:
            raise ConfigError("安全模式需要同时设置 CUNWU_WECHAT_TOKEN 与 CUNWU_WECHAT_APPID")
        if not isinstance(aes_key, str) or len(aes_key) != 43:
            raise ConfigError("CUNWU_WECHAT_AES_KEY 必须是 43 个字符的 EncodingAESKey")
        try:
            key = base64.b64decode(aes_key + "=", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ConfigError("CUNWU_WECHAT_AES_KEY 不是有效的 EncodingAESKey") from exc
        if len(key) != 32:
            raise ConfigError("CUNWU_WECHAT_AES_KEY 不是有效的 EncodingAESKey")
        self.token = token
        self.appid = appid
        self._key = key
        self._appid_bytes = appid.encode("utf-8")
        self._chain = _CbcChain(key)

    def __repr__(self) -> str:
        return f"Crypto(appid={self.appid!r}, token=***, aes_key=***)"

    def encrypt(self, plain: str) -> str:
        """The base64 ``Encrypt`` value for ``plain``: AES(random 16 bytes, length, text, appid)."""
        text = plain.encode("utf-8")
        data = b"".join((_random_prefix(), len(text).to_bytes(4, "big"), text, self._appid_bytes))
        pad = _BLOCK - len(data) % _BLOCK
        sealed = self._chain.encrypt(data + bytes((pad,)) * pad)
        return base64.b64encode(sealed).decode("ascii")

    def decrypt(self, encrypted: str) -> str:
        """The plain text inside an ``Encrypt`` value; anything wrong → :class:`InvalidRequest`."""
        if not isinstance(encrypted, str) or not encrypted.strip():
            raise InvalidRequest("微信加密消息为空")
        try:
            sealed = base64.b64decode(encrypted, validate=True)
            data = self._chain.decrypt(sealed)  # ValueError unless whole blocks
            pad = data[-1]
            if not 1 <= pad <= _BLOCK or len(data) < 16 + 4 + pad:
                raise ValueError("bad padding")
            content = data[16:-pad]
            length = int.from_bytes(content[:4], "big")
            if length > len(content) - 4:
                raise ValueError("length beyond the message")
            plain = content[4 : 4 + length].decode("utf-8")
            from_id = content[4 + length :]
        except Exception as exc:  # binascii.Error, ValueError, UnicodeDecodeError …
            raise InvalidRequest("微信加密消息无法解密", detail=type(exc).__name__) from None
        if not hmac.compare_digest(from_id, self._appid_bytes):
            raise InvalidRequest("微信加密消息无法解密", detail="InvalidAppIdException")
        return plain

    def open_envelope(
        self, body: str | bytes, msg_signature: str | None, timestamp: str | None, nonce: str | None
    ) -> dict[str, Any]:
        """Check ``msg_signature`` and decrypt the ``<Encrypt>`` of the posted body: the message's fields
        (as :func:`parse_xml` reads them)."""
        return parse_xml(self.decrypt_message(body, msg_signature, timestamp, nonce))

    def decrypt_message(
        self, body: str | bytes, msg_signature: str | None, timestamp: str | None, nonce: str | None
    ) -> str:
        """Check ``msg_signature`` and decrypt the ``<Encrypt>`` of the posted body: the plain XML."""
        encrypt = _field(parse_xml(body), "Encrypt", required=True, limit=MAX_XML_BYTES)
        check_msg_signature(self.token, msg_signature, timestamp, nonce, encrypt)
        return self.decrypt(encrypt)

    def encrypt_message(self, reply_xml: str, nonce: str, timestamp: str | int | None = None) -> str:
        """The encrypted reply envelope (Encrypt, MsgSignature, TimeStamp, Nonce)."""
        ts = str(timestamp if timestamp is not None else _now())
        _simple_token(ts, "timestamp")
        _simple_token(nonce, "nonce")
        encrypt = self.encrypt(reply_xml)
        signature = sign(self.token, ts, nonce, encrypt)
        # base64, hex and the checked nonce hold neither "]]>" nor characters XML cannot carry
        return (
            f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt><MsgSignature><![CDATA[{signature}]]></MsgSignature>"
            f"<TimeStamp>{ts}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>"
        )

    def decrypt_reply(self, envelope: str | bytes) -> str:
        """Open an envelope made by :meth:`encrypt_message` (what WeChat does with our reply)."""
        raw = parse_xml(envelope)
        encrypt = _field(raw, "Encrypt", required=True, limit=MAX_XML_BYTES)
        check_msg_signature(
            self.token, _field(raw, "MsgSignature"), _field(raw, "TimeStamp"), _field(raw, "Nonce"), encrypt
        )
        return self.decrypt(encrypt)


def make_crypto(token: str, aes_key: str, appid: str) -> Crypto | None:
    """A :class:`Crypto` in safe mode (``aes_key`` set), ``None`` in plain mode."""
    return Crypto(token, aes_key, appid) if aes_key else None


# ---------------------------------------------------------------------------------------------
# The request as a whole (the bot's side)


def verify_request(query: Mapping[str, str], body: str | bytes, *, token: str, crypto: Crypto | None = None) -> str:
    """Check the signature of a POST from WeChat and return its plain XML (decrypted in safe mode).

    In safe mode (``crypto`` given) the body must be encrypted (``encrypt_type=aes``).
    """
    check_signature(token, query.get("signature"), query.get("timestamp"), query.get("nonce"))
    _encrypt_type(query, crypto)
    if crypto is None:
        return _to_text(body)
    return crypto.decrypt_message(body, query.get("msg_signature"), query["timestamp"], query["nonce"])


def read_request(
    query: Mapping[str, str], body: str | bytes, *, token: str, crypto: Crypto | None = None
) -> InboundMessage:
    """Check the signature of a POST from WeChat and read its message (decrypted in safe mode)."""
    check_signature(token, query.get("signature"), query.get("timestamp"), query.get("nonce"))
    return open_request(query, body, crypto=crypto)


def open_request(query: Mapping[str, str], body: str | bytes, *, crypto: Crypto | None) -> InboundMessage:
    """The message of a POST whose ``signature`` :func:`check_signature` has already accepted: in safe
    mode the ``msg_signature`` is checked (constant time) and the body decrypted; each XML document
    is parsed once. Raises :class:`BadSignature` or :class:`InvalidRequest`."""
    _encrypt_type(query, crypto)
    if crypto is None:
        return message_from_fields(parse_xml(body))
    fields = crypto.open_envelope(body, query.get("msg_signature"), query.get("timestamp"), query.get("nonce"))
    return message_from_fields(fields)


def _encrypt_type(query: Mapping[str, str], crypto: Crypto | None) -> None:
    """Check ``encrypt_type`` of the query against the mode (safe mode ⇔ ``aes``)."""
    encrypt_type = (query.get("encrypt_type") or "raw").lower()
    if crypto is None:
        if encrypt_type != "raw":
            raise InvalidRequest("收到加密消息，但未设置 CUNWU_WECHAT_AES_KEY")
    elif encrypt_type != "aes":
        raise InvalidRequest("安全模式下收到未加密的消息")


def verify_echo(query: Mapping[str, str], *, token: str) -> str:
    """The ``echostr`` to answer WeChat's URL verification (GET) with, once the signature checks out."""
    check_signature(token, query.get("signature"), query.get("timestamp"), query.get("nonce"))
    echostr = query.get("echostr")
    if not echostr or len(echostr) > _ID_FIELD_CHARS:
        raise InvalidRequest("微信验证请求缺少 echostr")
    return echostr


def seal_reply(reply_xml: str, *, crypto: Crypto | None, nonce: str, timestamp: str | int | None = None) -> str:
    """The reply body to send back: encrypted in safe mode, as is otherwise (``""`` stays ``""``)."""
    if crypto is None or not reply_xml or reply_xml == "success":
        return reply_xml
    return crypto.encrypt_message(reply_xml, nonce, timestamp)


# ---------------------------------------------------------------------------------------------
# The request as a whole (WeChat's side: tests and ``cunwu chat``)


def new_nonce() -> str:
    return str(secrets.randbelow(9 * 10**9) + 10**9)


def encrypt_for_wechat(crypto: Crypto, xml: str, *, to_user: str) -> str:
    """The body WeChat posts in safe mode: ``<xml><ToUserName/><Encrypt/></xml>``."""
    return f"<xml><ToUserName>{cdata(to_user)}</ToUserName><Encrypt>{cdata(crypto.encrypt(xml))}</Encrypt></xml>"


def sign_request_params(
    token: str,
    *,
    openid: str,
    timestamp: str | None = None,
    nonce: str | None = None,
    encrypted_body: str | None = None,
) -> dict[str, str]:
    """The query parameters WeChat adds to its POST (``encrypt_type``/``msg_signature`` in safe mode)."""
    ts = timestamp or str(_now())
    nc = nonce or new_nonce()
    params = {"signature": sign(token, ts, nc), "timestamp": ts, "nonce": nc, "openid": openid}
    if encrypted_body is not None:
        encrypt = _field(parse_xml(encrypted_body), "Encrypt", required=True, limit=MAX_XML_BYTES)
        params["encrypt_type"] = "aes"
        params["msg_signature"] = sign(token, ts, nc, encrypt)
    return params


def build_signed_post(
    token: str,
    xml: str,
    *,
    openid: str,
    crypto: Crypto | None = None,
    to_user: str = "gh_cunwu",
    timestamp: str | None = None,
    nonce: str | None = None,
) -> tuple[dict[str, str], str]:
    """``(query params, body)`` of the POST WeChat would make for ``xml`` (encrypted if ``crypto``)."""
    body = encrypt_for_wechat(crypto, xml, to_user=to_user) if crypto is not None else xml
    params = sign_request_params(
        token,
        openid=openid,
        timestamp=timestamp,
        nonce=nonce,
        encrypted_body=body if crypto is not None else None,
    )
    return params, body
