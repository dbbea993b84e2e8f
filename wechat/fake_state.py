"""The fake WeChat platform's state and plumbing: config, faults, issued tokens, recorded calls.

:class:`FakeState` holds what the fake knows (tokens, tags, recorded messages, pending faults), the
in-process API tests use (``inject``, ``messages_for``, ``expire_tokens`` …), the wrapper every API
goes through (call count, latency, faults, access token, JSON body, WeChat's error answers) and the
token endpoints. The official-account APIs are in :mod:`wechat.fake_official_account`, the server
and the WeCom robot in :mod:`wechat.fake_platform`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import itertools
import json
import secrets
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

Payload = dict[str, Any]
Handler = Callable[[Mapping[str, str], Payload], Payload]
"""An API of the fake: the query and the JSON body (``{}`` for a GET) in, WeChat's JSON answer out."""

TOKEN_APIS = frozenset({"token"})
NO_ACCESS_TOKEN = TOKEN_APIS | {"webhook_send"}


@dataclass
class FakeConfig:
    """How the fake behaves; the sets name openids that get the matching WeChat refusal."""

    appid: str = "wx_fake_appid"
    secret: str = "fake_app_secret"
    token_ttl: int = 7200
    token_overlap: int = 300
    latency_ms: int = 0
    robot_rate_per_minute: int = 20
    unfollowed: frozenset[str] = frozenset()
    outside_window: frozenset[str] = frozenset()
    custom_limit: int | None = None
    clock: Callable[[], float] = time.time


@dataclass
class Fault:
    """The next ``count`` calls to ``api`` (or to any non-token API) fail as described."""

    api: str | None = None
    count: int = 1
    errcode: int | None = None
    errmsg: str = ""
    status: int | None = None
    delay: float = 0.0

    def __post_init__(self) -> None:
        self.errmsg = self.errmsg or f"fake fault {self.errcode}"

    def matches(self, api: str) -> bool:
        return api not in TOKEN_APIS if self.api is None else self.api == api


class Answer(Exception):
    """Raised inside a handler to answer with a WeChat error."""

    def __init__(self, errcode: int, errmsg: str, **extra: Any) -> None:
        super().__init__(errmsg)
        self.payload = {"errcode": errcode, "errmsg": errmsg, **extra}


json_response = functools.partial(web.json_response, dumps=functools.partial(json.dumps, ensure_ascii=False))


def ok(**extra: Any) -> Payload:
    return {"errcode": 0, "errmsg": "ok", **extra}


def content_of(body: Payload, msgtype: str) -> str:
    """The ``content`` of a text or markdown message; 44004 when it is missing or empty."""
    inner = body.get(msgtype)
    content = inner.get("content") if isinstance(inner, dict) else None
    if not isinstance(content, str) or not content:
        raise Answer(44004, "empty content")
    return content


class FakeState:
    """The state of the fake: issued tokens, tags, recorded messages, pending faults."""

    def __init__(self, config: FakeConfig | None = None) -> None:
        self.config = config or FakeConfig()
        self.messages: list[Payload] = []
        self.tokens: dict[str, float] = {}
        self.token_fetches = 0
        self.tokens_issued = 0
        self.calls: Counter[str] = Counter()
        self.faults: list[Fault] = []
        self.tags: dict[int, str] = {}
        self.tag_members: dict[int, set[str]] = {}
        self.custom_counts: Counter[str] = Counter()
        self.clientmsgids: dict[str, tuple[int, int]] = {}
        self.robot_sends: dict[str, deque[float]] = {}
        self._seq = itertools.count(1)
        self._ids = itertools.count(1000)
        self._tag_ids = itertools.count(100)

    # -- in-process API for tests -----------------------------------------------------------

    def now(self) -> float:
        return self.config.clock()

    def record(self, api: str, body: Any, **extra: Any) -> Payload:
        at = dt.datetime.fromtimestamp(self.now(), dt.UTC).isoformat()
        entry = {"seq": next(self._seq), "api": api, "body": body, "at": at, **extra}
        self.messages.append(entry)
        return entry

    def messages_for(self, api: str | None = None, touser: str | None = None, since: int = 0) -> list[Payload]:
        return [
            m
            for m in self.messages
            if m["seq"] > since
            and (not api or m["api"] == api)
            and (not touser or (isinstance(m["body"], dict) and m["body"].get("touser") == touser))
        ]

    def clear_messages(self) -> int:
        n = len(self.messages)
        self.messages.clear()
        return n

    def expire_tokens(self) -> None:
        """Every issued token is expired from now on (the next call with one answers 42001)."""
        self.tokens.update(dict.fromkeys(self.tokens, self.now() - 1))

    def inject(self, **fault: Any) -> Fault:
        """The next ``count`` calls (to ``api``, or any non-token API) fail as described (the fields of
        :class:`Fault`)."""
        self.faults.append(Fault(**fault))
        return self.faults[-1]

    def stats(self) -> Payload:
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

    def _wrap(self, api: str, handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
        """The aiohttp handler of one API: counted, slowed or failed as configured, then validated."""

        async def wrapped(request: web.Request) -> web.Response:
            self.calls[api] += 1
            if self.config.latency_ms:
                await asyncio.sleep(self.config.latency_ms / 1000)
            fault = self._take_fault(api)
            if fault is not None:
                await asyncio.sleep(fault.delay)
                if fault.status is not None:
                    return web.Response(status=fault.status, text=f"fake HTTP {fault.status}")
                if fault.errcode is not None:
                    return json_response({"errcode": fault.errcode, "errmsg": fault.errmsg})
            try:
                if api not in NO_ACCESS_TOKEN:
                    self._check_token(request.query.get("access_token"))
                elif api == "webhook_send" and not request.query.get("key"):
                    raise Answer(93000, "invalid webhook url")  # (before the body is read, as WeCom does)
                body = await self._body(request) if request.method == "POST" else {}
                return json_response(handler(request.query, body))
            except Answer as answer:
                return json_response(answer.payload)

        return wrapped

    @staticmethod
    async def _body(request: web.Request) -> Payload:
        try:
            body = json.loads((await request.read()).decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise Answer(47001, "data format error") from None
        if not isinstance(body, dict):
            raise Answer(47001, "data format error")
        return body

    def _check_token(self, token: str | None) -> None:
        if not token:
            raise Answer(41001, "access_token missing")
        expires = self.tokens.get(token)
        if expires is None:
            raise Answer(40001, "invalid credential, access_token is invalid or not latest")
        if expires <= self.now():
            raise Answer(42001, "access_token expired")

    def _check_app(self, fields: Mapping[str, Any]) -> None:
        if fields.get("grant_type") != "client_credential":
            raise Answer(40002, "invalid grant_type")
        if fields.get("appid") != self.config.appid:
            raise Answer(40013, "invalid appid")
        if fields.get("secret") != self.config.secret:
            raise Answer(40125, "invalid appsecret")
        self.token_fetches += 1

    def _issue(self) -> str:
        """A new token; the older ones stay valid for ``token_overlap`` seconds at most."""
        now = self.now()
        cutoff = now + self.config.token_overlap
        self.tokens.update({old: min(expires, cutoff) for old, expires in self.tokens.items()})
        token = secrets.token_urlsafe(48)
        self.tokens[token] = now + self.config.token_ttl
        self.tokens_issued += 1
        return token

    # -- token ------------------------------------------------------------------------------

    def _token(self, query: Mapping[str, str], body: Payload) -> Payload:
        self._check_app(query)
        return {"access_token": self._issue(), "expires_in": self.config.token_ttl}
