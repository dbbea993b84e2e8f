"""The JSON API: ``GET /api/ask?q=…&village=…`` (the object ``cunwu ask --json`` prints) and ``GET /healthz``.

``/api/ask`` is public: a token bucket per client address limits it (``api_rate_per_minute``,
answered ``429`` with ``Retry-After``), and an optional ``api_token`` makes it require
``Authorization: Bearer``. Its questions are logged with ``channel='api'`` (HEAD requests not at all).
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import math
import time
from dataclasses import asdict
from typing import Any

from aiohttp import web
from cachetools import TTLCache
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.conversation import Conversation, Outage
from bot.matching import MatcherHolder, MatcherNotReady
from bot.question_log import QuestionLogger

MAX_QUESTION_CHARS = 200
DB_CHECK_TIMEOUT = 2.0


class TokenBucket:
    """``rate`` requests a minute per key, in bursts of up to ``rate``; :meth:`take` says how long to wait.
    A bucket idle for a minute is full again, so it is forgotten (at most ``size`` are kept)."""

    def __init__(self, rate: int, *, size: int = 10_000) -> None:
        self.rate = rate
        self._buckets: TTLCache[str, tuple[float, float]] = TTLCache(maxsize=size, ttl=60.0)  # key → (tokens, at)

    def take(self, key: str) -> float:
        """0 when a request may go now (a token taken), else the seconds until one is available."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        tokens, at = self._buckets.get(key, (float(self.rate), now))
        tokens = min(float(self.rate), tokens + (now - at) * self.rate / 60.0)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        return 0.0 if allowed else (1.0 - tokens) * 60.0 / self.rate


def json_response(data: Any, status: int = 200, **kwargs: Any) -> web.Response:
    """UTF-8 JSON with Chinese as characters (not ``\\uXXXX``)."""
    dumps = functools.partial(json.dumps, ensure_ascii=False, default=str)
    return web.json_response(data, status=status, dumps=dumps, **kwargs)


class ApiHandlers:
    """``/api/ask`` and ``/healthz`` (which reports the conversation's counters and the writer's backlog)."""

    def __init__(
        self,
        engine: AsyncEngine,
        matcher: MatcherHolder,
        question_log: QuestionLogger,
        conversation: Conversation,
        *,
        rate_per_minute: int = 30,
        token: str = "",
    ) -> None:
        self.engine = engine
        self.limit = TokenBucket(rate_per_minute)
        self.outage = Outage("health checks")
        self.token = token
        self.matcher = matcher
        self.question_log = question_log
        self.conversation = conversation

    async def ask(self, request: web.Request) -> web.Response:
        if self.token and not _bearer_matches(request, self.token):
            return json_response({"error": "需要有效的访问令牌（Authorization: Bearer）"}, status=401)
        wait = self.limit.take(request.remote or "")
        if wait > 0:
            retry_after = str(max(1, math.ceil(wait)))
            return json_response({"error": "请求太频繁，请稍后再试"}, status=429, headers={"Retry-After": retry_after})
        question = request.query.get("q", "").strip()
        village = request.query.get("village", "").strip().upper() or None
        if not question:
            return json_response({"error": "缺少参数 q（问题）"}, status=400)
        if len(question) > MAX_QUESTION_CHARS:
            return json_response({"error": f"问题太长（最多 {MAX_QUESTION_CHARS} 个字）"}, status=400)
        if village is not None and len(village) > 16:
            return json_response({"error": "村编码无效"}, status=400)
        started = time.perf_counter()
        try:
            result = await self.matcher.ask_async(question, village)
        except MatcherNotReady:
            return json_response({"error": "问答资料正在加载，请稍后再试"}, status=503)
        latency = (time.perf_counter() - started) * 1000
        if request.method != "HEAD":
            self.question_log.record(question, result, latency, village=village, channel="api")
        return json_response(result.to_dict())

    async def healthz(self, request: web.Request) -> web.Response:
        db_ok = True
        try:
            async with asyncio.timeout(DB_CHECK_TIMEOUT), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            db_ok = False
            self.outage.failed(exc)
        else:
            self.outage.ok()
        ok = db_ok and self.matcher.ready
        current, writer = self.matcher.current, self.conversation.writer
        body: dict[str, Any] = {
            "status": "ok" if ok else "degraded",
            "database": db_ok,
            "matcher": {
                "ready": self.matcher.ready,
                "builds": self.matcher.builds,
                "revision": self.matcher.revision,
                "cache_hits": self.matcher.cache_hits,
                "shared_asks": self.matcher.shared_asks,
                "workers": len(getattr(current, "pids", ())),
                "worker_restarts": getattr(current, "restarts", 0),
            },
            "question_log_pending": self.question_log.pending,
            "wechat": asdict(self.conversation.stats),
            "database_writes": {
                "backlog": writer.backlog,
                "passes": writer.passes,
                "stalled": writer.stalled_since is not None,
            },
            "background_tasks": len(self.conversation.tasks),
        }
        return json_response(body, status=200 if ok else 503)


def _bearer_matches(request: web.Request, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
