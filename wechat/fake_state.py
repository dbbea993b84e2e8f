"""The fake WeChat platform's state and plumbing: config, faults, issued tokens, recorded calls.

:class:`FakeState` holds what the fake knows (tokens, tags, recorded messages, pending faults),
the in-process API tests use (``inject``, ``messages_for``, ``expire_tokens`` …), the request
checks every API shares (JSON body, access token, openid, appid and secret) and the token
endpoints. The official-account APIs are in :mod:`wechat.fake_official_account`, the server and
the WeCom robot in :mod:`wechat.fake_platform`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import re
import secrets
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

OPENID_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
MEDIA_LIMITS = {"image": 10 * 1024 * 1024, "voice": 2 * 1024 * 1024, "video": 10 * 1024 * 1024, "thumb": 64 * 1024}
TOKEN_APIS = frozenset({"token", "stable_token"})
ROBOT_TEXT_LIMIT = 2048
ROBOT_MARKDOWN_LIMIT = 4096
CUSTOM_TEXT_LIMIT = 20 * 1024
TAG_NAME_LIMIT = 30
TAGS_PER_USER = 20
TAG_BATCH = 50


@dataclass
class FakeConfig:
    """How the fake behaves. ``None`` in the allow-lists means "anything well-formed"."""

    appid: str = "wx_fake_appid"
    secret: str = "fake_app_secret"
    token_ttl: int = 7200
    token_overlap: int = 300
    latency_ms: int = 0
    robot_rate_per_minute: int = 20
    robot_keys: frozenset[str] | None = None
    templates: frozenset[str] | None = None
    known_openids: frozenset[str] | None = None
    unfollowed: frozenset[str] = frozenset()
    outside_window: frozenset[str] = frozenset()
    custom_limit: int | None = None
    max_tags: int = 100
    clock: Callable[[], float] = time.time


@dataclass
class Fault:
    api: str | None
    count: int
    errcode: int | None = None
    errmsg: str = ""
    status: int | None = None
    delay: float = 0.0

    def matches(self, api: str) -> bool:
        if self.api is None:
            return api not in TOKEN_APIS
        return self.api == api

    def as_dict(self) -> dict[str, Any]:
        return {
            "api": self.api,
            "count": self.count,
            "errcode": self.errcode,
            "status": self.status,
            "delay_ms": int(self.delay * 1000),
        }


class Answer(Exception):
    """Raised inside a handler to answer with a WeChat error."""

    def __init__(self, errcode: int, errmsg: str, **extra: Any) -> None:
        super().__init__(errmsg)
        self.payload = {"errcode": errcode, "errmsg": errmsg, **extra}


def json_response(payload: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        content_type="application/json",
        charset="utf-8",
    )


def ok(**extra: Any) -> web.Response:
    return json_response({"errcode": 0, "errmsg": "ok", **extra})


@dataclass
class FakeState:
    """The state of the fake: issued tokens, tags, recorded messages, pending faults."""

    config: FakeConfig = field(default_factory=FakeConfig)

    def __post_init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.tokens: dict[str, float] = {}
        self.stable_token: str | None = None
        self.token_fetches = 0
        self.tokens_issued = 0
        self.calls: Counter[str] = Counter()
        self.faults: list[Fault] = []
        self.tags: dict[int, str] = {}
        self.tag_members: dict[int, set[str]] = {}
        self.custom_counts: Counter[str] = Counter()
        self.clientmsgids: dict[str, tuple[int, int]] = {}
        self.robot_sends: dict[str, deque[float]] = {}
        self.media: dict[str, dict[str, Any]] = {}
        self._seq = itertools.count(1)
        self._ids = itertools.count(1000)
        self._tag_ids = itertools.count(100)

    # -- in-process API for tests -----------------------------------------------------------

    def now(self) -> float:
        return self.config.clock()

    def record(self, api: str, body: Any, **extra: Any) -> dict[str, Any]:
        at = dt.datetime.fromtimestamp(self.now(), dt.UTC).isoformat()
        entry = {"seq": next(self._seq), "api": api, "body": body, "at": at, **extra}
        self.messages.append(entry)
        return entry

    def messages_for(self, api: str | None = None, touser: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        out = []
        for m in self.messages:
            if m["seq"] <= since or (api and m["api"] != api):
                continue
            if touser and not (isinstance(m["body"], dict) and m["body"].get("touser") == touser):
                continue
            out.append(m)
        return out

    def clear_messages(self) -> int:
        n = len(self.messages)
        self.messages.clear()
        return n

    def expire_tokens(self) -> None:
        """Every issued token is expired from now on (the next call with one answers 42001)."""
        past = self.now() - 1
        for token in self.tokens:
            self.tokens[token] = past

    def inject(
        self,
        *,
        api: str | None = None,
        errcode: int | None = None,
        errmsg: str = "",
        status: int | None = None,
        delay: float = 0.0,
        count: int = 1,
    ) -> Fault:
        """The next ``count`` calls (to ``api``, or any non-token API) fail as described."""
        fault = Fault(
            api=api, count=count, errcode=errcode, errmsg=errmsg or f"fake fault {errcode}", status=status, delay=delay
        )
        self.faults.append(fault)
        return fault

    def stats(self) -> dict[str, Any]:
        return {
            "token_fetches": self.token_fetches,
            "tokens_issued": self.tokens_issued,
            "calls": dict(self.calls),
            "messages": len(self.messages),
        }

    # -- plumbing ---------------------------------------------------------------------------

    def _take_fault(self, api: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(api):
                fault.count -= 1
                if fault.count <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _wrap(self, api: str, handler: Handler) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            self.calls[api] += 1
            if self.config.latency_ms:
                await asyncio.sleep(self.config.latency_ms / 1000)
            fault = self._take_fault(api)
            if fault is not None:
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                if fault.status is not None:
                    return web.Response(status=fault.status, text=f"fake HTTP {fault.status}")
                if fault.errcode is not None:
                    return json_response({"errcode": fault.errcode, "errmsg": fault.errmsg})
            try:
                return await handler(request)
            except Answer as answer:
                return json_response(answer.payload)

        return wrapped

    async def _body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = json.loads((await request.read()).decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise Answer(47001, "data format error") from None
        if not isinstance(body, dict):
            raise Answer(47001, "data format error")
        return body

    def _check_token(self, request: web.Request) -> None:
        token = request.query.get("access_token")
        if not token:
            raise Answer(41001, "access_token missing")
        expires = self.tokens.get(token)
        if expires is None:
            raise Answer(40001, "invalid credential, access_token is invalid or not latest")
        if expires <= self.now():
            raise Answer(42001, "access_token expired")

    def _check_openid(self, openid: Any) -> str:
        if not isinstance(openid, str) or not OPENID_RE.match(openid):
            raise Answer(40003, "invalid openid")
        if self.config.known_openids is not None and openid not in self.config.known_openids:
            raise Answer(40003, "invalid openid")
        return openid

    def _check_app(self, grant_type: Any, appid: Any, secret: Any) -> None:
        if grant_type != "client_credential":
            raise Answer(40002, "invalid grant_type")
        if appid != self.config.appid:
            raise Answer(40013, "invalid appid")
        if secret != self.config.secret:
            raise Answer(40125, "invalid appsecret")

    def _issue(self) -> str:
        now = self.now()
        cutoff = now + self.config.token_overlap
        for old, expires in self.tokens.items():
            self.tokens[old] = min(expires, cutoff)
        token = secrets.token_urlsafe(48)
        self.tokens[token] = now + self.config.token_ttl
        self.tokens_issued += 1
        return token

    # -- token ------------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        q = request.query
        self._check_app(q.get("grant_type"), q.get("appid"), q.get("secret"))
        self.token_fetches += 1
        return json_response({"access_token": self._issue(), "expires_in": self.config.token_ttl})

    async def _stable_token(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        self._check_app(body.get("grant_type"), body.get("appid"), body.get("secret"))
        self.token_fetches += 1
        current = self.stable_token
        expires = self.tokens.get(current or "", 0.0)
        if current is None or body.get("force_refresh") is True or expires <= self.now():
            current = self.stable_token = self._issue()
            expires = self.tokens[current]
        return json_response({"access_token": current, "expires_in": max(1, int(expires - self.now()))})
