"""The WeChat endpoint, protocol only: ``GET /wechat`` (the echostr check) and ``POST /wechat``.

The request path::

    size cap → signature (constant time) → timestamp window → msg_signature and decrypt (safe mode)
    → parse → Conversation.respond (claim, answer, budget) → render and seal the reply

A bad signature is answered 403 before the body is read; anything else that goes wrong is
logged and answered with ``success`` (WeChat then stops retrying): never a 500, never a hang.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web

from bot.conversation import Conversation
from core.errors import ConfigError
from wechat.crypto import Crypto
from wechat.errors import BadSignature, InvalidRequest
from wechat.messages import InboundMessage, open_request, render_text_reply, seal_reply
from wechat.signature import check_signature
from wechat.xml import MAX_XML_BYTES

log = logging.getLogger(__name__)

SUCCESS = "success"
DEFAULT_TIMESTAMP_WINDOW = 300.0
"""Seconds a request's timestamp may be away from our clock (WeChat retries within ~15 s)."""


class WeChatEndpoint:
    """Handlers for ``/wechat``; collaborators come in through the constructor. Bodies over
    :data:`~wechat.xml.MAX_XML_BYTES` are refused (413): the app's ``client_max_size`` is that cap."""

    def __init__(
        self,
        *,
        token: str,
        crypto: Crypto | None,
        conversation: Conversation,
        timestamp_window: float | None = DEFAULT_TIMESTAMP_WINDOW,
    ) -> None:
        self.token = token
        self.crypto = crypto
        self.conversation = conversation
        self.stats = conversation.stats
        self.timestamp_window = timestamp_window

    async def verify(self, request: web.Request) -> web.Response:
        """Answer WeChat's server check: echo ``echostr`` when the signature is right, else 403."""
        q = request.query
        try:
            check_signature(self.token, q.get("signature"), q.get("timestamp"), q.get("nonce"))
        except (BadSignature, ConfigError) as exc:
            return self._refuse(request, exc)
        echostr = q.get("echostr", "")
        if len(echostr) > 512:
            return web.Response(status=400, text="bad request")
        return web.Response(text=echostr, content_type="text/plain")

    async def receive(self, request: web.Request) -> web.Response:
        started = asyncio.get_running_loop().time()
        self.stats.received += 1
        try:
            return await self._receive(request, started)
        except asyncio.CancelledError:
            raise
        except Exception:  # the last line of defence: a well-formed answer, never a 500
            self.stats.errors += 1
            log.exception("POST /wechat failed unexpectedly")
            return _text(SUCCESS)

    async def _receive(self, request: web.Request, started: float) -> web.Response:
        q = request.query
        if request.content_length is not None and request.content_length > MAX_XML_BYTES:
            return self._too_large()  # (before the signature: nothing is read)
        try:
            check_signature(self.token, q.get("signature"), q.get("timestamp"), q.get("nonce"))
            self._check_timestamp(q.get("timestamp", ""))
        except (BadSignature, ConfigError) as exc:
            return self._refuse(request, exc)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:  # a chunked body past the cap
            return self._too_large()
        try:
            msg = open_request(q, body, crypto=self.crypto)  # the signature is checked above
        except BadSignature as exc:  # msg_signature
            return self._refuse(request, exc)
        except InvalidRequest as exc:
            self.stats.malformed += 1
            log.info("POST /wechat: malformed message answered with success (%s: %s)", exc.message, exc.detail)
            return _text(SUCCESS)
        reply = await self.conversation.respond(msg, started)
        if reply is None:
            return _text(SUCCESS)
        return self._seal(msg, reply, q.get("nonce", ""))

    def _refuse(self, request: web.Request, exc: BadSignature | ConfigError) -> web.Response:
        self.stats.rejected += 1
        log.info("%s /wechat refused: %s", request.method, exc.detail or type(exc).__name__)
        return web.Response(status=403, text="forbidden")

    def _too_large(self) -> web.Response:
        self.stats.malformed += 1
        return web.Response(status=413, text="request entity too large")

    def _check_timestamp(self, timestamp: str) -> None:
        if self.timestamp_window is None:
            return
        try:
            ts = int(timestamp)
        except ValueError:
            raise BadSignature(detail="timestamp is not a number") from None
        if abs(time.time() - ts) > self.timestamp_window:  # wall-clock time, as WeChat's timestamps
            raise BadSignature(detail="timestamp outside the accepted window")

    def _seal(self, msg: InboundMessage, text: str, nonce: str) -> web.Response:
        now = int(time.time())
        try:
            xml = render_text_reply(msg.from_user, msg.to_user, text, create_time=now)
            body = seal_reply(xml, crypto=self.crypto, nonce=nonce, timestamp=now)
        except InvalidRequest as exc:
            log.info("could not seal the reply (%s); answering success", exc.detail)
            return _text(SUCCESS)
        return web.Response(text=body, content_type="application/xml")


def _text(body: str) -> web.Response:
    return web.Response(text=body, content_type="text/plain")
