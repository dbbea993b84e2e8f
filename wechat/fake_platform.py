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

import json
from collections import deque
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from wechat import fake_push
from wechat.fake_official_account import OfficialAccountFake
from wechat.fake_state import (
    ROBOT_MARKDOWN_LIMIT,
    ROBOT_TEXT_LIMIT,
    Answer,
    FakeConfig,
    Fault,
    Handler,
    json_response,
    ok,
)

__all__ = ["FAKE_PLATFORM", "FakeConfig", "FakePlatform", "Fault", "PathOnlyAccessLogger", "create_fake_app"]


class FakePlatform(OfficialAccountFake):
    """The fake platform: the official account's APIs, the WeCom robot, inspection and fault injection."""

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

    # -- WeCom robot ------------------------------------------------------------------------

    async def _webhook_send(self, request: web.Request) -> web.Response:
        key = request.query.get("key", "")
        if not key or (self.config.robot_keys is not None and key not in self.config.robot_keys):
            raise Answer(93000, "invalid webhook url")
        body = await self._body(request)
        msgtype = body.get("msgtype")
        if msgtype not in {"text", "markdown"}:
            raise Answer(40008, "invalid message type")
        inner = body.get(msgtype)
        content = inner.get("content") if isinstance(inner, dict) else None
        if not isinstance(content, str) or not content:
            raise Answer(44004, "empty content")
        limit = ROBOT_TEXT_LIMIT if msgtype == "text" else ROBOT_MARKDOWN_LIMIT
        size = len(content.encode("utf-8"))
        if size > limit:
            raise Answer(40058, f"{msgtype}.content exceed max length {limit}. invalid Request Parameter")
        sent = self.robot_sends.setdefault(key, deque())
        now = self.now()
        while sent and sent[0] <= now - 60:
            sent.popleft()
        if len(sent) >= self.config.robot_rate_per_minute:
            raise Answer(130101, "send too frequently, please try later")
        sent.append(now)
        self.record("webhook_send", body, key=key)
        return ok()

    # -- inspection -------------------------------------------------------------------------

    async def _get_messages(self, request: web.Request) -> web.Response:
        q = request.query
        try:
            since = int(q.get("since", "0"))
        except ValueError:
            raise web.HTTPBadRequest(text="since must be an integer") from None
        return json_response(self.messages_for(api=q.get("api"), touser=q.get("touser"), since=since))

    async def _delete_messages(self, request: web.Request) -> web.Response:
        return json_response({"deleted": self.clear_messages()})

    async def _get_stats(self, request: web.Request) -> web.Response:
        return json_response(self.stats())

    async def _get_faults(self, request: web.Request) -> web.Response:
        return json_response([f.as_dict() for f in self.faults])

    async def _delete_faults(self, request: web.Request) -> web.Response:
        self.faults.clear()
        return json_response([])

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
        return json_response([f.as_dict() for f in self.faults])

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
