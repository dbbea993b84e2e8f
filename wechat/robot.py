"""WeCom group robots (企业微信群机器人): ``POST {base}/cgi-bin/webhook/send?key=KEY``.

Text is at most 2,048 bytes of UTF-8 and markdown 4,096, so long messages are split on paragraph
boundaries (then lines, then characters — never inside a UTF-8 sequence). A robot takes at most
20 messages a minute; :class:`RateLimiter` keeps a sliding window per key and either waits for a
slot or raises :class:`~wechat.errors.RateLimited`; the platform's own 130101 is raised as
``RateLimited`` too (not retried here: the caller reschedules). The key is a secret: it is never
logged or put into an error message in full.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp

from wechat.errors import PlatformBusy, PlatformUnavailable, RateLimited, WeChatError, error_for

log = logging.getLogger(__name__)

TEXT_LIMIT_BYTES = 2048
MARKDOWN_LIMIT_BYTES = 4096
RATE_PER_MINUTE = 20
RATE_LIMITED_ERRCODE = 130101

Sleep = Callable[[float], Awaitable[None]]


def mask_key(key: str) -> str:
    """A robot key safe to log: its first four characters."""
    return (key[:4] + "***") if key else "(empty)"


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _split_chars(text: str, limit: int) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for ch in text:
        n = _size(ch)
        if size + n > limit and current:
            parts.append("".join(current))
            current, size = [], 0
        current.append(ch)
        size += n
    if current:
        parts.append("".join(current))
    return parts


def _pack(pieces: list[str], sep: str, limit: int, split_piece: Callable[[str], list[str]]) -> list[str]:
    out: list[str] = []
    current = ""
    for piece in pieces:
        if _size(piece) > limit:
            if current:
                out.append(current)
                current = ""
            out.extend(split_piece(piece))
            continue
        candidate = piece if not current else current + sep + piece
        if _size(candidate) <= limit:
            current = candidate
        else:
            out.append(current)
            current = piece
    if current:
        out.append(current)
    return out


def split_message(text: str, limit_bytes: int) -> list[str]:
    """Split ``text`` into parts of at most ``limit_bytes`` UTF-8 bytes each.

    Paragraphs (separated by a blank line) are kept together where they fit; a paragraph too
    long is split on lines, a line too long on characters. Blank-only parts are dropped.
    """
    if limit_bytes < 4:
        raise ValueError("limit_bytes must be at least 4 (one UTF-8 character)")
    text = text.replace("\r\n", "\n").strip("\n")
    if not text.strip():
        return []
    if _size(text) <= limit_bytes:
        return [text]
    paragraphs = [p.strip("\n") for p in text.split("\n\n")]
    paragraphs = [p for p in paragraphs if p.strip()]

    def split_paragraph(paragraph: str) -> list[str]:
        return _pack(paragraph.split("\n"), "\n", limit_bytes, lambda line: _split_chars(line, limit_bytes))

    return [p for p in _pack(paragraphs, "\n\n", limit_bytes, split_paragraph) if p.strip()]


class RateLimiter:
    """A sliding-window limit per key: at most ``limit`` acquisitions in any ``window`` seconds."""

    def __init__(
        self,
        limit: int = RATE_PER_MINUTE,
        window: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._sent: dict[str, deque[float]] = {}

    def _prune(self, key: str) -> deque[float]:
        sent = self._sent.setdefault(key, deque())
        horizon = self._clock() - self.window
        while sent and sent[0] <= horizon:
            sent.popleft()
        return sent

    def available(self, key: str) -> int:
        return self.limit - len(self._prune(key))

    def wait_time(self, key: str, n: int = 1) -> float:
        """Seconds until ``n`` more sends fit the window (0 when they fit now)."""
        sent = self._prune(key)
        excess = len(sent) + n - self.limit
        if excess <= 0:
            return 0.0
        if n > self.limit:
            return self.window
        return max(0.0, sent[excess - 1] + self.window - self._clock())

    def try_acquire(self, key: str, n: int = 1) -> bool:
        if self.wait_time(key, n) > 0:
            return False
        now = self._clock()
        self._sent[key].extend([now] * n)
        return True

    async def acquire(self, key: str, *, wait: bool = True) -> None:
        """Take one slot; wait for it, or raise :class:`RateLimited` when ``wait`` is false."""
        while not self.try_acquire(key):
            delay = self.wait_time(key)
            if not wait:
                raise RateLimited(retry_after=delay, detail=f"robot {mask_key(key)}: local limit")
            await self._sleep(max(delay, 0.01))


class WeComRobot:
    """Sends to WeCom group robots. ``session`` is owned by the caller."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        api_base: str,
        *,
        limiter: RateLimiter | None = None,
        timeout: float = 10.0,
        max_retries: int = 2,
        backoff: float = 0.5,
        wait: bool = True,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._session = session
        self.api_base = api_base.rstrip("/")
        self.limiter = limiter or RateLimiter(sleep=sleep)
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.wait = wait
        self._sleep = sleep

    async def send_text(
        self,
        key: str,
        text: str,
        *,
        mentioned_mobile_list: Sequence[str] = (),
        wait: bool | None = None,
    ) -> int:
        """Send ``text`` (split into ≤ 2,048-byte parts); returns how many messages were sent."""
        parts = split_message(text, TEXT_LIMIT_BYTES)
        payloads: list[dict[str, Any]] = []
        for i, part in enumerate(parts):
            body: dict[str, Any] = {"content": part}
            if i == 0 and mentioned_mobile_list:
                body["mentioned_mobile_list"] = list(mentioned_mobile_list)
            payloads.append({"msgtype": "text", "text": body})
        return await self._send_all(key, payloads, wait)

    async def send_markdown(self, key: str, text: str, *, wait: bool | None = None) -> int:
        """Send markdown (split into ≤ 4,096-byte parts); returns how many messages were sent."""
        parts = split_message(text, MARKDOWN_LIMIT_BYTES)
        payloads = [{"msgtype": "markdown", "markdown": {"content": part}} for part in parts]
        return await self._send_all(key, payloads, wait)

    async def _send_all(self, key: str, payloads: list[dict[str, Any]], wait: bool | None) -> int:
        if not key:
            raise WeChatError("未设置群机器人 key")
        should_wait = self.wait if wait is None else wait
        if not should_wait and payloads:
            # all parts or none: do not leave half a message in the group
            needed = self.limiter.wait_time(key, len(payloads))
            if needed > 0:
                raise RateLimited(retry_after=needed, detail=f"robot {mask_key(key)}: local limit")
        for payload in payloads:
            await self.limiter.acquire(key, wait=should_wait)
            await self._post(key, payload)
        return len(payloads)

    async def _post(self, key: str, payload: dict[str, Any]) -> None:
        url = self.api_base + "/cgi-bin/webhook/send"
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        where = f"robot {mask_key(key)}"
        attempt = 0
        while True:
            error: WeChatError
            try:
                async with self._session.post(
                    url,
                    params={"key": key},
                    data=data,
                    headers={"Content-Type": "application/json; charset=utf-8"},
                    timeout=aiohttp.ClientTimeout(total=self.timeout),
                ) as resp:
                    status = resp.status
                    raw = await resp.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = PlatformUnavailable(detail=f"{where}: {type(exc).__name__}")
            else:
                if status >= 500:
                    error = PlatformBusy(detail=f"{where}: HTTP {status}")
                elif status != 200:
                    raise WeChatError(f"企业微信返回 HTTP {status}", detail=where)
                else:
                    try:
                        answer = json.loads(raw)
                        errcode = int(answer.get("errcode") or 0)
                        errmsg = str(answer.get("errmsg") or "")
                    except (ValueError, TypeError, AttributeError):
                        error = PlatformBusy(detail=f"{where}: response is not JSON")
                    else:
                        if errcode == 0:
                            return
                        if errcode == RATE_LIMITED_ERRCODE:
                            raise RateLimited(errcode=errcode, errmsg=errmsg, detail=where, retry_after=60.0)
                        if errcode != -1:
                            failure = error_for(errcode, errmsg)
                            failure.detail = f"{where}: {errmsg}"
                            raise failure
                        error = PlatformBusy(errcode=-1, errmsg=errmsg, detail=where)
            if attempt >= self.max_retries:
                raise error
            delay = self.backoff * 2**attempt * (0.5 + random.random() / 2)
            attempt += 1
            log.warning("%s failed (%s); retry %d in %.2fs", where, error.detail, attempt, delay)
            await self._sleep(delay)
