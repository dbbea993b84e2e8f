"""The messages WeChat posts to the bot and the replies it sends back: the model, reading, rendering.

Inbound path (the bot)::

    msg = read_request(query, body, token=settings.wechat_token, crypto=crypto_or_none)
    reply = render_text_reply(msg.from_user, msg.to_user, "您好")
    return seal_reply(reply, crypto=crypto_or_none, nonce=query["nonce"])

(:func:`read_request` is :func:`~wechat.signature.check_signature` followed by :func:`open_request`;
a server that checks the signature before reading the body calls the two itself.) URL verification
(GET): ``return verify_echo(query, token=settings.wechat_token)``. What WeChat itself would send is
built by :mod:`wechat.testing`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wechat.crypto import Crypto
from wechat.errors import InvalidRequest
from wechat.signature import MAX_PARAM_CHARS, check_signature
from wechat.xml import cdata, parse_xml, text_field, to_text

_ID_FIELD_CHARS = 256


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


def _int_field(raw: Mapping[str, Any], name: str, *, required: bool) -> int | None:
    value = text_field(dict(raw), name, required=required, limit=20).strip()
    if not value:
        return None
    if not value.isascii() or not value.isdigit():
        raise InvalidRequest("微信消息字段格式不正确", detail=f"{name} is not a number")
    return int(value)


def parse_message(xml: str | bytes) -> InboundMessage:
    """Parse the (decrypted) XML WeChat posted. Raises only :class:`InvalidRequest`."""
    return message_from_fields(parse_xml(xml))


def message_from_fields(raw: dict[str, Any]) -> InboundMessage:
    """The message in fields read by :func:`~wechat.xml.parse_xml`. Raises only :class:`InvalidRequest`."""
    try:
        msg_type = text_field(raw, "MsgType", required=True, limit=64).strip().lower()
        event = ""
        if msg_type == "event":
            event = text_field(raw, "Event", required=True, limit=64).strip().lower()
        create_time = _int_field(raw, "CreateTime", required=True)
        return InboundMessage(
            msg_type=msg_type,
            event=event,
            from_user=text_field(raw, "FromUserName", required=True, limit=_ID_FIELD_CHARS).strip(),
            to_user=text_field(raw, "ToUserName", required=True, limit=_ID_FIELD_CHARS).strip(),
            create_time=create_time or 0,
            msg_id=_int_field(raw, "MsgId", required=False),
            content=text_field(raw, "Content"),
            recognition=text_field(raw, "Recognition"),
            event_key=text_field(raw, "EventKey", limit=1024),
            raw=raw,
        )
    except InvalidRequest:
        raise
    except Exception as exc:  # a last line of defence: callers catch one type
        raise InvalidRequest("无法解析微信消息", detail=type(exc).__name__) from exc


def render_text_reply(to_user: str, from_user: str, content: str, create_time: int | None = None) -> str:
    """The passive text reply: ``to_user`` is the villager's openid, ``from_user`` the account id."""
    return (
        "<xml>"
        f"<ToUserName>{cdata(to_user)}</ToUserName>"
        f"<FromUserName>{cdata(from_user)}</FromUserName>"
        f"<CreateTime>{int(create_time if create_time is not None else time.time())}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{cdata(content)}</Content>"
        "</xml>"
    )


def verify_request(query: Mapping[str, str], body: str | bytes, *, token: str, crypto: Crypto | None = None) -> str:
    """Check the signature of a POST from WeChat and return its plain XML (decrypted in safe mode).

    In safe mode (``crypto`` given) the body must be encrypted (``encrypt_type=aes``).
    """
    check_signature(token, query.get("signature"), query.get("timestamp"), query.get("nonce"))
    _encrypt_type(query, crypto)
    if crypto is None:
        return to_text(body)
    return crypto.decrypt_message(body, query.get("msg_signature"), query["timestamp"], query["nonce"])


def read_request(
    query: Mapping[str, str], body: str | bytes, *, token: str, crypto: Crypto | None = None
) -> InboundMessage:
    """Check the signature of a POST from WeChat and read its message (decrypted in safe mode)."""
    check_signature(token, query.get("signature"), query.get("timestamp"), query.get("nonce"))
    return open_request(query, body, crypto=crypto)


def open_request(query: Mapping[str, str], body: str | bytes, *, crypto: Crypto | None) -> InboundMessage:
    """The message of a POST whose ``signature`` has already been accepted: in safe mode the
    ``msg_signature`` is checked (constant time) and the body decrypted; each XML document is parsed
    once. Raises :class:`~wechat.errors.BadSignature` or :class:`InvalidRequest`."""
    _encrypt_type(query, crypto)
    if crypto is None:
        return message_from_fields(parse_xml(body))
    fields = crypto.open_envelope(body, query.get("msg_signature"), query.get("timestamp"), query.get("nonce"))
    return message_from_fields(dict(fields))


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
    if not echostr or len(echostr) > MAX_PARAM_CHARS:
        raise InvalidRequest("微信验证请求缺少 echostr")
    return echostr


def seal_reply(reply_xml: str, *, crypto: Crypto | None, nonce: str, timestamp: str | int | None = None) -> str:
    """The reply body to send back: encrypted in safe mode, as is otherwise (``""`` stays ``""``)."""
    if crypto is None or not reply_xml or reply_xml == "success":
        return reply_xml
    return crypto.encrypt_message(reply_xml, nonce, timestamp)
