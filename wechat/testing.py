"""WeChat's side of the conversation: what WeChat posts to the bot, and reading what the bot answers.

The builders (``build_*_xml``, :func:`build_signed_post`) produce the bodies and query parameters
WeChat itself would send; :class:`WeChatSim` posts them and opens the reply. It is the one
simulator used by the tests, ``cunwu chat`` and the benchmarks, over any HTTP client with an
aiohttp-style ``post(url, params=, data=)`` (an ``aiohttp.ClientSession``, or aiohttp's test client).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from wechat.crypto import Crypto
from wechat.signature import sign
from wechat.xml import parse_xml, render_xml


def _msg_id(msg_id: int | None) -> int:
    return msg_id if msg_id is not None else secrets.randbelow(2**62) + 2**62


def _inbound(to_user: str, from_user: str, create_time: int | None, **fields: str | int) -> str:
    created = int(create_time if create_time is not None else time.time())
    return render_xml({"ToUserName": to_user, "FromUserName": from_user, "CreateTime": created, **fields})


def build_text_xml(
    to_user: str, from_user: str, content: str, *, create_time: int | None = None, msg_id: int | None = None
) -> str:
    """The XML WeChat posts for a text message (``to_user`` = account id, ``from_user`` = openid)."""
    return _inbound(to_user, from_user, create_time, MsgType="text", Content=content, MsgId=_msg_id(msg_id))


def build_voice_xml(
    to_user: str, from_user: str, recognition: str, *, create_time: int | None = None, msg_id: int | None = None
) -> str:
    """The XML for a voice message with WeChat's speech ``Recognition``."""
    voice = {"MsgType": "voice", "MediaId": "fake_voice_media_id", "Format": "amr", "Recognition": recognition}
    return _inbound(to_user, from_user, create_time, **voice, MsgId=_msg_id(msg_id))


def build_event_xml(to_user: str, from_user: str, event: str, key: str = "", *, create_time: int | None = None) -> str:
    """The XML for an event: ``subscribe``, ``unsubscribe``, ``CLICK`` (menu, with ``key``) …"""
    return _inbound(to_user, from_user, create_time, MsgType="event", Event=event, EventKey=key)


def encrypt_for_wechat(crypto: Crypto, xml: str, *, to_user: str) -> str:
    """The body WeChat posts in safe mode: ``<xml><ToUserName/><Encrypt/></xml>``."""
    return render_xml({"ToUserName": to_user, "Encrypt": crypto.encrypt(xml)})


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
    """``(query params, body)`` of the POST WeChat would make for ``xml``: signed, and in safe mode
    (``crypto`` given) encrypted with ``encrypt_type``/``msg_signature`` added."""
    ts = timestamp or str(int(time.time()))
    nc = nonce or str(secrets.randbelow(9 * 10**9) + 10**9)
    params = {"signature": sign(token, ts, nc), "timestamp": ts, "nonce": nc, "openid": openid}
    if crypto is None:
        return params, xml
    encrypt = crypto.encrypt(xml)
    params |= {"encrypt_type": "aes", "msg_signature": sign(token, ts, nc, encrypt)}
    return params, render_xml({"ToUserName": to_user, "Encrypt": encrypt})


@dataclass
class Reply:
    """What the bot answered: the HTTP status, the raw body, and the reply's fields once opened
    (``None`` for ``success``, an empty body or an error status)."""

    status: int
    body: str
    fields: dict[str, Any] | None

    @property
    def content(self) -> str | None:
        """The text reply's ``Content``; ``None`` when there is no text reply."""
        if self.fields is None or self.fields.get("MsgType") != "text":
            return None
        content = self.fields.get("Content")
        return content if isinstance(content, str) else None


class WeChatSim:
    """Posts what WeChat posts to ``url`` (signed, and encrypted when ``crypto`` is set) and opens the
    replies. ``client`` is an ``aiohttp.ClientSession`` or aiohttp's ``TestClient``."""

    def __init__(
        self, client: Any, crypto: Crypto | None, token: str, *, url: str = "/wechat", account: str = "gh_cunwu"
    ) -> None:
        self.client = client
        self.crypto = crypto
        self.token = token
        self.url = url
        self.account = account

    async def post(
        self, xml: str, *, openid: str, timestamp: str | None = None, nonce: str | None = None, **kwargs: Any
    ) -> Reply:
        """Post ``xml`` as WeChat would; ``kwargs`` go to the client's ``post`` (a timeout …)."""
        params, body = build_signed_post(
            self.token, xml, openid=openid, crypto=self.crypto, to_user=self.account, timestamp=timestamp, nonce=nonce
        )
        headers = {"Content-Type": "text/xml; charset=utf-8"}
        async with self.client.post(
            self.url, params=params, data=body.encode("utf-8"), headers=headers, **kwargs
        ) as resp:
            status, raw = resp.status, await resp.read()
        text = raw.decode("utf-8", "replace")
        return Reply(status, text, self.open(text) if status == 200 else None)

    def open(self, body: str) -> dict[str, Any] | None:
        """The fields of a reply body (decrypted in safe mode); ``None`` for ``success`` or nothing.
        Raises :class:`~wechat.errors.InvalidRequest` when it cannot be read."""
        body = body.strip()
        if not body or body == "success":
            return None
        xml = self.crypto.decrypt_reply(body) if self.crypto is not None else body
        return parse_xml(xml)

    async def text(self, openid: str, content: str, *, msg_id: int | None = None, **kw: Any) -> Reply:
        return await self.post(build_text_xml(self.account, openid, content, msg_id=msg_id), openid=openid, **kw)

    async def voice(self, openid: str, recognition: str, *, msg_id: int | None = None, **kw: Any) -> Reply:
        xml = build_voice_xml(self.account, openid, recognition, msg_id=msg_id)
        return await self.post(xml, openid=openid, **kw)

    async def event(
        self, openid: str, event: str, key: str = "", *, create_time: int | None = None, **kw: Any
    ) -> Reply:
        xml = build_event_xml(self.account, openid, event, key, create_time=create_time)
        return await self.post(xml, openid=openid, **kw)
