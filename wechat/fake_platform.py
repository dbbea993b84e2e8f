"""A fake WeChat + WeCom platform: an aiohttp server with the real request and response formats.

Endpoints (the ones Cunwu uses): ``/cgi-bin/token``,
``/cgi-bin/message/custom/send``, ``/cgi-bin/message/template/send``, ``/cgi-bin/tags/create``,
``/cgi-bin/tags/get``, ``/cgi-bin/tags/members/batchtagging``, ``…/batchuntagging``,
``/cgi-bin/message/mass/sendall`` and WeCom's ``/cgi-bin/webhook/send?key=``. Requests are
validated the way the platform does (appid and secret, issued and unexpired access tokens, 50
openids per tagging call, text size caps, 20 robot messages a minute per key, ``clientmsgid``
dedupe) and answered with WeChat's error codes.

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

  Without ``"api"`` a fault applies to any API call except the token endpoints.
  ``GET /_fake/faults`` lists pending faults; ``DELETE /_fake/faults`` clears them.
- ``POST /_vendor/loudspeaker/upload`` — a loudspeaker vendor's upload API (not WeChat's): multipart
  ``village``, ``notice_id``, optional ``slot`` and one or more ``file`` parts; recorded as
  ``loudspeaker_upload``.

Tests use it in-process: ``platform = FakePlatform(FakeConfig(...))``, ``app = platform.make_app()``
(or :func:`create_fake_app`), then call ``platform.inject(...)``, ``platform.messages`` …
"""

from __future__ import annotations

import dataclasses
import json
from collections import deque
from collections.abc import Mapping

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from wechat.fake_official_account import OfficialAccountFake
from wechat.fake_state import Answer, FakeConfig, Fault, Handler, Payload, content_of, json_response, ok

__all__ = ["FAKE_PLATFORM", "FakeConfig", "FakePlatform", "Fault", "PathOnlyAccessLogger", "create_fake_app"]

ROBOT_LIMITS = {"text": 2048, "markdown": 4096}
"""The most UTF-8 bytes a WeCom robot message of each type may hold."""
FAULT_FIELDS = frozenset({"errcode", "status", "delay_ms"})


class FakePlatform(OfficialAccountFake):
    """The fake platform: the official account's APIs, the WeCom robot, inspection and fault injection."""

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=11 * 1024 * 1024)  # the loudspeaker's audio files
        app[FAKE_PLATFORM] = self
        routes: list[tuple[str, str, str, Handler]] = [
            ("GET", "/cgi-bin/token", "token", self._token),
            ("POST", "/cgi-bin/message/custom/send", "custom_send", self._custom_send),
            ("POST", "/cgi-bin/message/template/send", "template_send", self._template_send),
            ("POST", "/cgi-bin/tags/create", "tags_create", self._tags_create),
            ("GET", "/cgi-bin/tags/get", "tags_get", self._tags_get),
            ("POST", "/cgi-bin/tags/members/batchtagging", "tags_batchtagging", self._batchtagging),
            ("POST", "/cgi-bin/tags/members/batchuntagging", "tags_batchuntagging", self._batchuntagging),
            ("POST", "/cgi-bin/message/mass/sendall", "mass_sendall", self._mass_sendall),
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
        app.router.add_post("/_vendor/loudspeaker/upload", self._loudspeaker_upload)
        return app

    def _webhook_send(self, query: Mapping[str, str], body: Payload) -> Payload:
        key = query["key"]  # (checked by the wrapper)
        msgtype = body.get("msgtype")
        if msgtype not in ROBOT_LIMITS:
            raise Answer(40008, "invalid message type")
        limit = ROBOT_LIMITS[msgtype]
        if len(content_of(body, msgtype).encode("utf-8")) > limit:
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

    async def _loudspeaker_upload(self, request: web.Request) -> web.Response:
        """A loudspeaker vendor's upload API (not WeChat's; push's loudspeaker channel may use one)."""
        self.calls["loudspeaker_upload"] += 1
        form = await request.post()
        files = []
        for f in form.getall("file", []):
            if isinstance(f, web.FileField):
                with f.file:  # (aiohttp spools each upload to a temporary file: closed here, not by the GC)
                    files.append({"name": f.filename, "size": len(f.file.read())})
        village, notice_id = form.get("village"), form.get("notice_id")
        if not isinstance(village, str) or not isinstance(notice_id, str) or not files:
            return json_response({"errcode": 40001, "errmsg": "village, notice_id and file are required"})
        self.record(
            "loudspeaker_upload",
            {"village": village, "notice_id": notice_id, "slot": str(form.get("slot", "")), "files": files},
        )
        return json_response(ok(files=len(files)))

    # -- inspection and faults --------------------------------------------------------------

    async def _get_messages(self, request: web.Request) -> web.Response:
        q = request.query
        if not q.get("since", "0").isdigit():
            raise web.HTTPBadRequest(text="since must be an integer")
        return json_response(self.messages_for(api=q.get("api"), touser=q.get("touser"), since=int(q.get("since", 0))))

    async def _delete_messages(self, request: web.Request) -> web.Response:
        return json_response({"deleted": self.clear_messages()})

    async def _get_stats(self, request: web.Request) -> web.Response:
        return json_response(self.stats())

    async def _get_faults(self, request: web.Request) -> web.Response:
        return json_response([dataclasses.asdict(f) for f in self.faults])

    async def _delete_faults(self, request: web.Request) -> web.Response:
        self.faults.clear()
        return json_response([])

    async def _post_faults(self, request: web.Request) -> web.Response:
        """Apply one fault spec (see the module docstring); 400 when it is not one."""
        try:
            spec = json.loads(await request.read())
            if not isinstance(spec, dict) or not {"expire_tokens", "latency_ms", *FAULT_FIELDS} & spec.keys():
                raise ValueError("unknown fault; see wechat.fake_platform for the accepted forms")
            if not isinstance(spec.get("api", ""), str):
                raise ValueError("api must be a string")
            if spec.get("expire_tokens"):
                self.expire_tokens()
            if "latency_ms" in spec:
                self.config.latency_ms = int(spec["latency_ms"])
            if FAULT_FIELDS & spec.keys():
                errcode, status = spec.get("errcode"), spec.get("status")
                self.inject(
                    api=spec.get("api"),
                    errcode=None if errcode is None else int(errcode),
                    errmsg=str(spec.get("errmsg", "")),
                    status=None if status is None else int(status),
                    delay=float(spec.get("delay_ms", 0)) / 1000,
                    count=int(spec.get("count", 1)),
                )
        except (TypeError, ValueError) as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        return await self._get_faults(request)


class PathOnlyAccessLogger(AbstractAccessLogger):
    """An access log without query strings (they carry the AppSecret, access tokens and robot keys)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %s %.3fs", request.method, request.path, response.status, time)


FAKE_PLATFORM = web.AppKey("fake_platform", FakePlatform)


def create_fake_app(config: FakeConfig | None = None) -> web.Application:
    """The fake platform as an aiohttp app; its state is ``app[FAKE_PLATFORM]``."""
    return FakePlatform(config).make_app()
