"""A fake WeChat + WeCom platform: an aiohttp server with the real request and response formats.

Endpoints (the ones Cunwu uses): ``/cgi-bin/token``, ``/cgi-bin/stable_token``,
``/cgi-bin/message/custom/send``, ``/cgi-bin/message/template/send``, ``/cgi-bin/tags/create``,
``/cgi-bin/tags/get``, ``/cgi-bin/tags/members/batchtagging``, ``…/batchuntagging``,
``/cgi-bin/message/mass/sendall``, ``/cgi-bin/media/upload`` and WeCom's
``/cgi-bin/webhook/send?key=``. Requests are validated the way the platform does (appid and
secret, issued and unexpired access tokens, 50 openids per tagging call, text size caps, 20
robot messages a minute per key, ``clientmsgid`` dedupe) and answered with WeChat's error codes.

Every accepted request (except token fetches, which are counted) is recorded:

- ``GET /_fake/messages`` — ``[{"seq", "api", "body", "at", …}]`` oldest first; optional filters
  ``?api=custom_send&touser=OPENID&since=SEQ``; ``DELETE /_fake/messages`` clears it.
- ``GET /_fake/stats`` — ``{"token_fetches", "tokens_issued", "calls": {api: n}, "messages"}``.
- ``POST /_fake/faults`` — inject faults, JSON one of::

      {"expire_tokens": true}                         every issued token answers 42001 from now
      {"errcode": 45009, "count": 1, "api": "custom_send"}   the next N calls answer errcode X
      {"status": 503, "count": 2}                     the next N calls answer HTTP 5xx
      {"delay_ms": 3000, "count": 1}                  the next N calls are slow (client timeouts)
      {"latency_ms": 50}                              latency added to every call from now on
      {"rate_limit": true, "count": 1}                the next N robot sends answer 130101

  Without ``"api"`` a fault applies to any API call except the token endpoints.
  ``GET /_fake/faults`` lists pending faults; ``DELETE /_fake/faults`` clears them.

Tests use it in-process: ``platform = FakePlatform(FakeConfig(...))``, ``app = platform.make_app()``
(or :func:`create_fake_app`), then call ``platform.inject(...)``, ``platform.messages`` …
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
from aiohttp.abc import AbstractAccessLogger

from wechat import fake_push

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


class _Answer(Exception):
    """Raised inside a handler to answer with a WeChat error."""

    def __init__(self, errcode: int, errmsg: str, **extra: Any) -> None:
        super().__init__(errmsg)
        self.payload = {"errcode": errcode, "errmsg": errmsg, **extra}


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        content_type="application/json",
        charset="utf-8",
    )


def _ok(**extra: Any) -> web.Response:
    return _json({"errcode": 0, "errmsg": "ok", **extra})


@dataclass
class FakePlatform:
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

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=11 * 1024 * 1024)
        app[FAKE_PLATFORM] = self
        routes: list[tuple[str, str, str, Handler]] = [
            ("GET", "/cgi-bin/token", "token", self._token),
            ("POST", "/cgi-bin/stable_token", "stable_token", self._stable_token),
            ("POST", "/cgi-bin/message/custom/send", "custom_send", self._custom_send),
            ("POST", "/cgi-bin/message/template/send", "template_send", self._template_send),
            ("POST", "/cgi-bin/tags/create", "tags_create", self._tags_create),
            ("GET", "/cgi-bin/tags/get", "tags_get", self._tags_get),
            ("POST", "/cgi-bin/tags/members/batchtagging", "tags_batchtagging", self._batchtagging),
            ("POST", "/cgi-bin/tags/members/batchuntagging", "tags_batchuntagging", self._batchuntagging),
            ("POST", "/cgi-bin/message/mass/sendall", "mass_sendall", self._mass_sendall),
            ("POST", "/cgi-bin/media/upload", "media_upload", self._media_upload),
            ("POST", "/cgi-bin/webhook/send", "webhook_send", self._webhook_send),
        ]
        for method, path, api, handler in routes:
            app.router.add_route(method, path, self._wrap(api, handler))
        app.router.add_get("/_fake/messages", self._get_messages)
        app.router.add_delete("/_fake/messages", self._delete_messages)
        app.router.add_get("/_fake/stats", self._get_stats)
        app.router.add_get("/_fake/faults", self._get_faults)
        app.router.add_post("/_fake/faults", self._post_faults)
        app.router.add_delete("/_fake/faults", self._delete_faults)
        fake_push.install(self, app)  # job-finish events, loudspeaker vendor, duplicate count
        return app

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
                    return _json({"errcode": fault.errcode, "errmsg": fault.errmsg})
            try:
                return await handler(request)
            except _Answer as answer:
                return _json(answer.payload)

        return wrapped

    async def _body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = json.loads((await request.read()).decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise _Answer(47001, "data format error") from None
        if not isinstance(body, dict):
            raise _Answer(47001, "data format error")
        return body

    def _check_token(self, request: web.Request) -> None:
        token = request.query.get("access_token")
        if not token:
            raise _Answer(41001, "access_token missing")
        expires = self.tokens.get(token)
        if expires is None:
            raise _Answer(40001, "invalid credential, access_token is invalid or not latest")
        if expires <= self.now():
            raise _Answer(42001, "access_token expired")

    def _check_openid(self, openid: Any) -> str:
        if not isinstance(openid, str) or not OPENID_RE.match(openid):
            raise _Answer(40003, "invalid openid")
        if self.config.known_openids is not None and openid not in self.config.known_openids:
            raise _Answer(40003, "invalid openid")
        return openid

    def _check_app(self, grant_type: Any, appid: Any, secret: Any) -> None:
        if grant_type != "client_credential":
            raise _Answer(40002, "invalid grant_type")
        if appid != self.config.appid:
            raise _Answer(40013, "invalid appid")
        if secret != self.config.secret:
            raise _Answer(40125, "invalid appsecret")

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
        return _json({"access_token": self._issue(), "expires_in": self.config.token_ttl})

    async def _stable_token(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        self._check_app(body.get("grant_type"), body.get("appid"), body.get("secret"))
        self.token_fetches += 1
        current = self.stable_token
        expires = self.tokens.get(current or "", 0.0)
        if current is None or body.get("force_refresh") is True or expires <= self.now():
            current = self.stable_token = self._issue()
            expires = self.tokens[current]
        return _json({"access_token": current, "expires_in": max(1, int(expires - self.now()))})

    # -- messages ---------------------------------------------------------------------------

    async def _custom_send(self, request: web.Request) -> web.Response:
        self._check_token(request)
        body = await self._body(request)
        openid = self._check_openid(body.get("touser"))
        msgtype = body.get("msgtype")
        if msgtype == "text":
            text = body.get("text")
            content = text.get("content") if isinstance(text, dict) else None
            if not isinstance(content, str) or not content:
                raise _Answer(44004, "empty content")
            if len(content.encode("utf-8")) > CUSTOM_TEXT_LIMIT:
                raise _Answer(45002, "content size out of limit")
        elif msgtype not in {"image", "voice", "news", "mpnews", "miniprogrampage"}:
            raise _Answer(40008, "invalid message type")
        if openid in self.config.unfollowed:
            raise _Answer(43004, "require subscribe")
        if openid in self.config.outside_window:
            raise _Answer(45015, "response out of time limit or subscription is canceled")
        if self.config.custom_limit is not None and self.custom_counts[openid] >= self.config.custom_limit:
            raise _Answer(45047, "out of response count limit")
        self.custom_counts[openid] += 1
        self.record("custom_send", body)
        return _ok()

    async def _template_send(self, request: web.Request) -> web.Response:
        self._check_token(request)
        body = await self._body(request)
        openid = self._check_openid(body.get("touser"))
        template_id = body.get("template_id")
        if not isinstance(template_id, str) or not template_id:
            raise _Answer(40037, "invalid template_id")
        if self.config.templates is not None and template_id not in self.config.templates:
            raise _Answer(40037, "invalid template_id")
        if not isinstance(body.get("data"), dict):
            raise _Answer(47001, "data format error")
        if openid in self.config.unfollowed:
            raise _Answer(43004, "require subscribe")
        msgid = next(self._ids)
        self.record("template_send", body, msgid=msgid)
        return _ok(msgid=msgid)

    # -- tags -------------------------------------------------------------------------------

    async def _tags_create(self, request: web.Request) -> web.Response:
        self._check_token(request)
        body = await self._body(request)
        tag = body.get("tag")
        name = tag.get("name") if isinstance(tag, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise _Answer(45157, "invalid tag name")
        if len(name) > TAG_NAME_LIMIT:
            raise _Answer(45158, "tag name too long")
        if name in self.tags.values():
            raise _Answer(45157, "invalid tag name")
        if len(self.tags) >= self.config.max_tags:
            raise _Answer(45056, "too many tags now, no need to add new")
        tag_id = next(self._tag_ids)
        self.tags[tag_id] = name
        self.tag_members[tag_id] = set()
        self.record("tags_create", body, tag_id=tag_id)
        return _json({"tag": {"id": tag_id, "name": name}})

    async def _tags_get(self, request: web.Request) -> web.Response:
        self._check_token(request)
        tags = [{"id": i, "name": n, "count": len(self.tag_members[i])} for i, n in sorted(self.tags.items())]
        return _json({"tags": tags})

    def _tagging_args(self, body: dict[str, Any]) -> tuple[int, list[str]]:
        tag_id = body.get("tagid")
        if not isinstance(tag_id, int) or isinstance(tag_id, bool) or tag_id not in self.tags:
            raise _Answer(45159, "invalid tag id")
        openids = body.get("openid_list")
        if not isinstance(openids, list) or not openids or len(openids) > TAG_BATCH:
            raise _Answer(40032, "invalid openid list size, please check the openid list size")
        return tag_id, [self._check_openid(o) for o in openids]

    async def _batchtagging(self, request: web.Request) -> web.Response:
        self._check_token(request)
        body = await self._body(request)
        tag_id, openids = self._tagging_args(body)
        for openid in openids:
            count = sum(1 for members in self.tag_members.values() if openid in members)
            if openid not in self.tag_members[tag_id] and count >= TAGS_PER_USER:
                raise _Answer(45059, "has too many tags")
        self.tag_members[tag_id].update(openids)
        self.record("tags_batchtagging", body)
        return _ok()

    async def _batchuntagging(self, request: web.Request) -> web.Response:
        self._check_token(request)
        body = await self._body(request)
        tag_id, openids = self._tagging_args(body)
        self.tag_members[tag_id].difference_update(openids)
        self.record("tags_batchuntagging", body)
        return _ok()

    # -- mass send --------------------------------------------------------------------------

    async def _mass_sendall(self, request: web.Request) -> web.Response:
        self._check_token(request)
        body = await self._body(request)
        flt = body.get("filter")
        if not isinstance(flt, dict):
            raise _Answer(47001, "data format error")
        if flt.get("is_to_all") is True:
            recipients: set[str] = set().union(*self.tag_members.values()) if self.tag_members else set()
        else:
            tag_id = flt.get("tag_id")  # wechatpy 1.8.18 sends the retired group_id: refused like WeChat does
            if not isinstance(tag_id, int) or tag_id not in self.tags:
                raise _Answer(40050, "invalid tag id")
            recipients = set(self.tag_members[tag_id])
        msgtype = body.get("msgtype")
        if msgtype == "text":
            text = body.get("text")
            content = text.get("content") if isinstance(text, dict) else None
            if not isinstance(content, str) or not content:
                raise _Answer(44004, "empty content")
        elif msgtype not in {"mpnews", "voice", "image", "mpvideo", "wxcard"}:
            raise _Answer(40008, "invalid message type")
        clientmsgid = body.get("clientmsgid")
        if clientmsgid is not None:
            if not isinstance(clientmsgid, str) or not clientmsgid or len(clientmsgid) > 64:
                raise _Answer(47001, "data format error")
            if clientmsgid in self.clientmsgids:
                msg_id, msg_data_id = self.clientmsgids[clientmsgid]
                raise _Answer(45065, "clientmsgid exist", msg_id=msg_id)
        msg_id, msg_data_id = next(self._ids), next(self._ids)
        if clientmsgid is not None:
            self.clientmsgids[clientmsgid] = (msg_id, msg_data_id)
        self.record("mass_sendall", body, msg_id=msg_id, recipients=sorted(recipients))
        return _json(
            {"errcode": 0, "errmsg": "send job submission success", "msg_id": msg_id, "msg_data_id": msg_data_id}
        )

    # -- media ------------------------------------------------------------------------------

    async def _media_upload(self, request: web.Request) -> web.Response:
        self._check_token(request)
        kind = request.query.get("type", "")
        if kind not in MEDIA_LIMITS:
            raise _Answer(40004, "invalid media type")
        if not request.content_type.startswith("multipart/"):
            raise _Answer(41005, "media data missing")
        form = await request.post()
        media = form.get("media")
        if not isinstance(media, web.FileField):
            raise _Answer(41005, "media data missing")
        data = media.file.read()
        if not data or len(data) > MEDIA_LIMITS[kind]:
            raise _Answer(40006, "invalid meida size")
        media_id = secrets.token_urlsafe(32)
        created_at = int(self.now())
        info = {"type": kind, "filename": media.filename, "size": len(data), "media_id": media_id}
        self.media[media_id] = info
        self.record("media_upload", info)
        return _json({"type": kind, "media_id": media_id, "created_at": created_at})

    # -- WeCom robot ------------------------------------------------------------------------

    async def _webhook_send(self, request: web.Request) -> web.Response:
        key = request.query.get("key", "")
        if not key or (self.config.robot_keys is not None and key not in self.config.robot_keys):
            raise _Answer(93000, "invalid webhook url")
        body = await self._body(request)
        msgtype = body.get("msgtype")
        if msgtype not in {"text", "markdown"}:
            raise _Answer(40008, "invalid message type")
        inner = body.get(msgtype)
        content = inner.get("content") if isinstance(inner, dict) else None
        if not isinstance(content, str) or not content:
            raise _Answer(44004, "empty content")
        limit = ROBOT_TEXT_LIMIT if msgtype == "text" else ROBOT_MARKDOWN_LIMIT
        size = len(content.encode("utf-8"))
        if size > limit:
            raise _Answer(40058, f"{msgtype}.content exceed max length {limit}. invalid Request Parameter")
        sent = self.robot_sends.setdefault(key, deque())
        now = self.now()
        while sent and sent[0] <= now - 60:
            sent.popleft()
        if len(sent) >= self.config.robot_rate_per_minute:
            raise _Answer(130101, "send too frequently, please try later")
        sent.append(now)
        self.record("webhook_send", body, key=key)
        return _ok()

    # -- inspection -------------------------------------------------------------------------

    async def _get_messages(self, request: web.Request) -> web.Response:
        q = request.query
        try:
            since = int(q.get("since", "0"))
        except ValueError:
            raise web.HTTPBadRequest(text="since must be an integer") from None
        return _json(self.messages_for(api=q.get("api"), touser=q.get("touser"), since=since))

    async def _delete_messages(self, request: web.Request) -> web.Response:
        return _json({"deleted": self.clear_messages()})

    async def _get_stats(self, request: web.Request) -> web.Response:
        return _json(self.stats())

    async def _get_faults(self, request: web.Request) -> web.Response:
        return _json([f.as_dict() for f in self.faults])

    async def _delete_faults(self, request: web.Request) -> web.Response:
        self.faults.clear()
        return _json([])

    async def _post_faults(self, request: web.Request) -> web.Response:
        try:
            spec = json.loads(await request.read())
        except ValueError:
            raise web.HTTPBadRequest(text="JSON expected") from None
        if not isinstance(spec, dict):
            raise web.HTTPBadRequest(text="a JSON object expected")
        try:
            self.apply_fault_spec(spec)
        except (TypeError, ValueError) as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        return _json([f.as_dict() for f in self.faults])

    def apply_fault_spec(self, spec: dict[str, Any]) -> None:
        """Apply one ``POST /_fake/faults`` body (see the module docstring)."""
        count = int(spec.get("count", 1))
        api = spec.get("api")
        if api is not None and not isinstance(api, str):
            raise ValueError("api must be a string")
        done = False
        if spec.get("expire_tokens"):
            self.expire_tokens()
            done = True
        if "latency_ms" in spec:
            self.config.latency_ms = int(spec["latency_ms"])
            done = True
        if spec.get("rate_limit"):
            self.inject(
                api=api or "webhook_send", errcode=130101, errmsg="send too frequently, please try later", count=count
            )
            done = True
        if any(k in spec for k in ("errcode", "status", "delay_ms")):
            errcode = spec.get("errcode")
            status = spec.get("status")
            self.inject(
                api=api,
                errcode=int(errcode) if errcode is not None else None,
                errmsg=str(spec.get("errmsg", "")),
                status=int(status) if status is not None else None,
                delay=float(spec.get("delay_ms", 0)) / 1000,
                count=count,
            )
            done = True
        if not done:
            raise ValueError("unknown fault; see wechat.fake_platform for the accepted forms")


class PathOnlyAccessLogger(AbstractAccessLogger):
    """An access log without query strings (they carry the AppSecret, access tokens and robot keys)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %s %.3fs", request.method, request.path, response.status, time)


FAKE_PLATFORM = web.AppKey("fake_platform", FakePlatform)


def create_fake_app(config: FakeConfig | None = None) -> web.Application:
    """The fake platform as an aiohttp app; its state is ``app[FAKE_PLATFORM]``."""
    return FakePlatform(config or FakeConfig()).make_app()
