"""The messages WeChat posts to the bot and the replies it sends back: the model, reading, rendering.

The bot checks the query's ``signature`` (:func:`~wechat.signature.check_signature`), reads the
message with :func:`open_request` (safe mode's ``msg_signature`` checked and the body decrypted),
and answers with :func:`render_text_reply` sealed by :func:`seal_reply`. What WeChat itself would
send is built by :mod:`wechat.testing`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wechat.crypto import Crypto
from wechat.errors import InvalidRequest
from wechat.xml import parse_xml, render_xml, text_field

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


def _int_field(raw: dict[str, Any], name: str, *, required: bool) -> int | None:
    value = text_field(raw, name, required=required, limit=20).strip()
    if not value:
        return None
    if not value.isascii() or not value.isdigit():
        raise InvalidRequest("微信消息字段格式不正确", detail=f"{name} is not a number")
    return int(value)


def parse_message(xml: str | bytes) -> InboundMessage:
    """Parse the (decrypted) XML WeChat posted. Raises only :class:`InvalidRequest`."""
    raw = parse_xml(xml)
    try:
        msg_type = text_field(raw, "MsgType", required=True, limit=64).strip().lower()
        event = ""
        if msg_type == "event":
            event = text_field(raw, "Event", required=True, limit=64).strip().lower()
        return InboundMessage(
            msg_type=msg_type,
            event=event,
            from_user=text_field(raw, "FromUserName", required=True, limit=_ID_FIELD_CHARS).strip(),
            to_user=text_field(raw, "ToUserName", required=True, limit=_ID_FIELD_CHARS).strip(),
            create_time=_int_field(raw, "CreateTime", required=True) or 0,
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


def open_request(query: Mapping[str, str], body: str | bytes, *, crypto: Crypto | None) -> InboundMessage:
    """The message of a POST whose ``signature`` has already been accepted: in safe mode (``crypto``
    given, ``encrypt_type=aes``) the ``msg_signature`` is checked (constant time) and the body
    decrypted. Raises :class:`~wechat.errors.BadSignature` or :class:`InvalidRequest`."""
    encrypt_type = (query.get("encrypt_type") or "raw").lower()
    if crypto is None:
        if encrypt_type != "raw":
            raise InvalidRequest("收到加密消息，但未设置 CUNWU_WECHAT_AES_KEY")
        return parse_message(body)
    if encrypt_type != "aes":
        raise InvalidRequest("安全模式下收到未加密的消息")
    msg_signature, timestamp, nonce = query.get("msg_signature"), query.get("timestamp"), query.get("nonce")
    return parse_message(crypto.decrypt_message(body, msg_signature, timestamp, nonce))


def render_text_reply(to_user: str, from_user: str, content: str, create_time: int | None = None) -> str:
    """The passive text reply: ``to_user`` is the villager's openid, ``from_user`` the account id."""
    created = int(create_time if create_time is not None else time.time())
    fields: dict[str, str | int] = {"ToUserName": to_user, "FromUserName": from_user, "CreateTime": created}
    return render_xml({**fields, "MsgType": "text", "Content": content})


def seal_reply(reply_xml: str, *, crypto: Crypto | None, nonce: str, timestamp: str | int | None = None) -> str:
    """The reply body to send back: encrypted in safe mode, as is otherwise (``""`` stays ``""``)."""
    if crypto is None or not reply_xml or reply_xml == "success":
        return reply_xml
    return crypto.encrypt_message(reply_xml, nonce, timestamp)
