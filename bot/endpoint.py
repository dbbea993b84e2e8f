"""The WeChat endpoint: ``GET /wechat`` (the echostr check) and ``POST /wechat`` (messages and events).

The request path::

    size cap → signature (constant time) → timestamp window → msg_signature and decrypt (safe mode)
    → parse → dedupe claim → dialogue or event handler → reply within the budget,
      or ``success`` now and the answer through the customer-service API later

Each signature is computed once and each XML document parsed once. An answer that needs no I/O
(a cached question, help …) is computed right after the claim, on the event loop; everything
else runs as a task the reply waits for until the budget runs out.

A bad signature is answered 403 before the body is read; anything else that goes wrong is
logged and answered with ``success`` (WeChat then stops retrying): never a 500, never a hang.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import replies
from bot.dedupe import ClaimTimeout, Deduper
from bot.dialogue import UNKNOWN, Answer, Dialogue
from bot.models import VIA_CUSTOMER_SERVICE, VIA_FAILED, VIA_NONE, VIA_PASSIVE
from bot.registry import EventContext, EventRegistry
from core.clock import Clock, SystemClock
from core.errors import ConfigError
from wechat.errors import BadSignature, InvalidRequest, WeChatError
from wechat.messages import (
    MAX_XML_BYTES,
    Crypto,
    InboundMessage,
    check_signature,
    open_request,
    render_text_reply,
    seal_reply,
)

log = logging.getLogger(__name__)

SUCCESS = "success"
DEFAULT_TIMESTAMP_WINDOW = 300.0
"""Seconds a request's timestamp may be away from our clock (WeChat retries within ~15 s)."""
LATE_ANSWER_LIMIT = 60.0
"""Seconds a late answer may still take before it is given up."""
FOLLOW_UP_DELAY = 0.5
"""Seconds between a passive reply and the customer-service messages that continue it."""
MAX_CS_PARTS = 3
"""At most this many customer-service messages for one answer (WeChat allows 5 in 48 h)."""

SendText = Callable[[str, str], Awaitable[None]]
"""``send(openid, text)``: a customer-service text message (``WeChatClient.send_custom_text``)."""


@dataclass
class EndpointStats:
    """Counters shown by ``/healthz``."""

    received: int = 0
    replied: int = 0
    late_answers: int = 0
    cs_sent: int = 0
    cs_failed: int = 0
    retries: int = 0
    rejected: int = 0
    malformed: int = 0
    errors: int = 0
    last_cs_error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class BackgroundTasks:
    """Tasks that outlive a request (late answers); awaited, then cancelled, at shutdown."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    async def close(self, timeout: float = 5.0) -> None:
        pending = set(self._tasks)
        if not pending:
            return
        _, still = await asyncio.wait(pending, timeout=timeout)
        for task in still:
            task.cancel()
        if still:
            await asyncio.gather(*still, return_exceptions=True)


def _short(openid: str) -> str:
    """An openid shortened for logs."""
    return openid[:6] + "…" if len(openid) > 6 else openid


def _describe(msg: InboundMessage) -> str:
    """A message for logs, without the villager's full openid or what they wrote."""
    if msg.msg_id is not None:
        return f"message {msg.msg_id} ({msg.msg_type})"
    return f"event {msg.event[:32]!r} from {_short(msg.from_user)}"


class WeChatEndpoint:
    """Handlers for ``/wechat``; collaborators come in through the constructor."""

    def __init__(
        self,
        *,
        token: str,
        crypto: Crypto | None,
        dialogue: Dialogue,
        registry: EventRegistry,
        deduper: Deduper,
        sessionmaker: async_sessionmaker[AsyncSession],
        send_text: SendText | None,
        tasks: BackgroundTasks,
        clock: Clock | None = None,
        budget: float = 4.0,
        timestamp_window: float | None = DEFAULT_TIMESTAMP_WINDOW,
        max_body: int = MAX_XML_BYTES,
    ) -> None:
        self.token = token
        self.crypto = crypto
        self.dialogue = dialogue
        self.registry = registry
        self.deduper = deduper
        self.sessionmaker = sessionmaker
        self.send_text = send_text
        self.tasks = tasks
        self.clock = clock or SystemClock()
        self.budget = budget
        self.timestamp_window = timestamp_window
        self.max_body = max_body
        self.stats = EndpointStats()

    # -- GET: the server check -----------------------------------------------------------------

    async def verify(self, request: web.Request) -> web.Response:
        """Answer WeChat's server check: echo ``echostr`` when the signature is right, else 403."""
        q = request.query
        try:
            check_signature(self.token, q.get("signature"), q.get("timestamp"), q.get("nonce"))
        except (BadSignature, ConfigError) as exc:
            self.stats.rejected += 1
            log.info("GET /wechat refused: %s", type(exc).__name__)
            return web.Response(status=403, text="forbidden")
        echostr = q.get("echostr", "")
        if len(echostr) > 512:
            return web.Response(status=400, text="bad request")
        return web.Response(text=echostr, content_type="text/plain")

    # -- POST: messages ----------------------------------------------------------------------

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
            return self._text(SUCCESS)

    async def _receive(self, request: web.Request, started: float) -> web.Response:
        q = request.query
        if request.content_length is not None and request.content_length > self.max_body:
            self.stats.malformed += 1
            log.info("POST /wechat refused: body of %d bytes", request.content_length)
            return web.Response(status=413, text="request entity too large")
        try:
            check_signature(self.token, q.get("signature"), q.get("timestamp"), q.get("nonce"))
            self._check_timestamp(q.get("timestamp", ""))
        except (BadSignature, ConfigError) as exc:
            self.stats.rejected += 1
            log.info("POST /wechat refused: %s", exc.detail or type(exc).__name__)
            return web.Response(status=403, text="forbidden")
        try:
            body = await self._read_body(request)
        except web.HTTPRequestEntityTooLarge:
            self.stats.malformed += 1
            return web.Response(status=413, text="request entity too large")
        try:
            msg = open_request(q, body, crypto=self.crypto)  # the signature is checked above
        except BadSignature:
            self.stats.rejected += 1
            log.info("POST /wechat refused: bad msg_signature")
            return web.Response(status=403, text="forbidden")
        except InvalidRequest as exc:
            self.stats.malformed += 1
            log.info("POST /wechat: malformed message answered with success (%s: %s)", exc.message, exc.detail)
            return self._text(SUCCESS)
        return await self._handle(msg, q.get("nonce", ""), started)

    def _check_timestamp(self, timestamp: str) -> None:
        if self.timestamp_window is None:
            return
        try:
            ts = int(timestamp)
        except ValueError:
            raise BadSignature(detail="timestamp is not a number") from None
        if abs(time.time() - ts) > self.timestamp_window:  # wall-clock time, as WeChat's timestamps
            raise BadSignature(detail="timestamp outside the accepted window")

    async def _read_body(self, request: web.Request) -> bytes:
        if request.content_length is not None:  # already checked against max_body
            return await request.read()
        data = bytearray()
        async for chunk in request.content.iter_chunked(16 * 1024):
            data += chunk
            if len(data) > self.max_body:
                raise web.HTTPRequestEntityTooLarge(max_size=self.max_body, actual_size=len(data))
        return bytes(data)

    async def _handle(self, msg: InboundMessage, nonce: str, started: float) -> web.Response:
        key = msg.dedupe_key
        try:  # the claim also reads the sender's village (``Deduper.also_return``), when so configured
            won, village = await self.deduper.claim_and_read(key, openid=msg.from_user, msg_type=msg.msg_type)
        except ClaimTimeout:  # the database is stalled or locked: an apology while WeChat still waits
            self.stats.errors += 1
            log.warning("could not record %s within %.1f s; apologising", _describe(msg), self.deduper.claim_timeout)
            return self._reply(msg, replies.error_reply(self.dialogue.service_phone), nonce)
        except Exception:
            self.stats.errors += 1
            log.exception("could not record %s; answering without dedupe", _describe(msg))
            return self._reply(msg, replies.error_reply(self.dialogue.service_phone), nonce)
        if not won:
            self.stats.retries += 1
            stored = await self.deduper.wait_for(key, self._remaining(started))
            if stored is not None and stored.via == VIA_PASSIVE and stored.reply:
                return self._reply(msg, stored.reply, nonce)
            return self._text(SUCCESS)
        known: object = village if self.deduper.also_return is not None else UNKNOWN
        if msg.msg_type != "event" and self._remaining(started) > 0:
            now = self._answer_now(msg, known)  # fast path, within the budget: no task, no thread hop
            if now is not None:
                return self._answered(msg, key, now, nonce)
        task = self.tasks.spawn(self._answer(msg, known))
        try:
            answer = await asyncio.wait_for(asyncio.shield(task), self._remaining(started))
        except TimeoutError:
            self.stats.late_answers += 1
            log.info("answer to %s is late: success now, the answer as a customer-service message", _describe(msg))
            self.tasks.spawn(self._deliver_late(msg, task))
            return self._text(SUCCESS)
        return self._answered(msg, key, answer, nonce)

    def _answered(self, msg: InboundMessage, key: str, answer: Answer, nonce: str) -> web.Response:
        """Store the answer (retries get it) and reply with it; the rest follows as customer-service messages."""
        if answer.text is None:
            self._finish(key, None, VIA_NONE)
            return self._text(SUCCESS)
        self._finish(key, answer.text, VIA_PASSIVE)
        if answer.more:
            self.tasks.spawn(self._send_parts(msg, answer.more, key=None, delay=FOLLOW_UP_DELAY))
        self.stats.replied += 1
        return self._reply(msg, answer.text, nonce)

    def _remaining(self, started: float) -> float:
        return max(0.0, self.budget - (asyncio.get_running_loop().time() - started))

    def _answer_now(self, msg: InboundMessage, village: object) -> Answer | None:
        """The dialogue's answer when it needs no I/O, else ``None``; an error becomes an apology."""
        try:
            return self.dialogue.answer_now(msg, village)
        except Exception:
            self.stats.errors += 1
            log.exception("answering %s failed", _describe(msg))
            return Answer(replies.error_reply(self.dialogue.service_phone))

    async def _answer(self, msg: InboundMessage, village: object = UNKNOWN) -> Answer:
        """The dialogue's answer; an error becomes an apology, not an exception."""
        try:
            if msg.msg_type == "event":
                ctx = EventContext(message=msg, sessionmaker=self.sessionmaker, now=self.clock.now())
                return Answer(await self.registry.dispatch(ctx))
            return await self.dialogue.reply_to(msg, village)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.stats.errors += 1
            log.exception("answering %s failed", _describe(msg))
            return Answer(replies.error_reply(self.dialogue.service_phone))

    def _finish(self, key: str, reply: str | None, via: str, error: str = "") -> None:
        try:
            self.deduper.finish(key, reply, via, error=error)
        except Exception:
            self.stats.errors += 1
            log.exception("could not store the answer of %s", key)

    async def _deliver_late(self, msg: InboundMessage, task: asyncio.Task[Answer]) -> None:
        """Wait for an answer that missed the budget and send it through the customer-service API."""
        key = msg.dedupe_key
        try:
            answer = await asyncio.wait_for(task, LATE_ANSWER_LIMIT)
        except TimeoutError:
            log.warning("answer to %s took more than %.0f s; given up", _describe(msg), LATE_ANSWER_LIMIT)
            self._finish(key, None, VIA_FAILED, "timeout")
            return
        except asyncio.CancelledError:
            self.deduper.abandon(key)
            raise
        if answer.text is None:
            self._finish(key, None, VIA_NONE)
            return
        self._finish(key, answer.text, VIA_CUSTOMER_SERVICE)
        await self._send_parts(msg, [answer.text, *answer.more], key=key)

    async def _send_parts(self, msg: InboundMessage, parts: list[str], *, key: str | None, delay: float = 0.0) -> None:
        """Customer-service messages; a platform error (quota, 48-hour window …) is recorded, not retried."""
        if delay:
            await asyncio.sleep(delay)  # let the passive reply reach the villager first
        if self.send_text is None:
            self.stats.cs_failed += 1
            self.stats.last_cs_error = "no WeChat API client (CUNWU_WECHAT_APPID/SECRET not set)"
            log.warning("cannot send a customer-service message: %s", self.stats.last_cs_error)
            if key:
                await self._update_via(key, VIA_FAILED, "no client")
            return
        for part in parts[:MAX_CS_PARTS]:
            try:
                await self.send_text(msg.from_user, part)
            except WeChatError as exc:
                self.stats.cs_failed += 1
                self.stats.last_cs_error = f"{type(exc).__name__} errcode={exc.errcode}"
                log.warning(
                    "customer-service message to %s failed: %s (errcode %s)",
                    _short(msg.from_user),
                    type(exc).__name__,
                    exc.errcode,
                )
                if key:
                    await self._update_via(key, VIA_FAILED, f"{type(exc).__name__} {exc.errcode}")
                return
            except Exception:
                self.stats.cs_failed += 1
                self.stats.last_cs_error = "unexpected error"
                log.exception("customer-service message to %s failed", _short(msg.from_user))
                if key:
                    await self._update_via(key, VIA_FAILED, "unexpected error")
                return
            self.stats.cs_sent += 1

    async def _update_via(self, key: str, via: str, error: str) -> None:
        try:
            await self.deduper.update_via(key, via, error=error)
        except Exception:
            log.exception("could not record the delivery of %s", key)

    # -- rendering ---------------------------------------------------------------------------

    @staticmethod
    def _text(body: str) -> web.Response:
        return web.Response(text=body, content_type="text/plain")

    def _reply(self, msg: InboundMessage, text: str, nonce: str) -> web.Response:
        now = int(time.time())
        try:
            xml = render_text_reply(msg.from_user, msg.to_user, text, create_time=now)
            body = seal_reply(xml, crypto=self.crypto, nonce=nonce, timestamp=now)
        except InvalidRequest as exc:
            log.info("could not seal the reply (%s); answering success", exc.detail)
            return self._text(SUCCESS)
        return web.Response(text=body, content_type="application/xml")
