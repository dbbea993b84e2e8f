"""The push side of the fake platform: job-finish events, a loudspeaker vendor, and duplicate counting.

Mounted by :class:`wechat.fake_platform.FakePlatform` (``install(platform, app)``):

- ``GET /_fake/events`` — the ``MASSSENDJOBFINISH`` event of every accepted mass send and the
  ``TEMPLATESENDJOBFINISH`` event of every template message, as the XML fields WeChat posts to the account's
  server (``MsgID``, ``Status``, ``TotalCount``, ``FilterCount``, ``SentCount``, ``ErrorCount``). They are derived
  from the message log, so they are always consistent with it. :func:`event_xml` renders one as WeChat's XML.
- ``POST /_vendor/loudspeaker/upload`` — a loudspeaker vendor's upload API: multipart ``village``,
  ``notice_id`` and one or more ``file`` parts; answers ``{"errcode": 0, "files": n}`` and records
  ``loudspeaker_upload`` in the message log.
- ``GET /_fake/duplicates`` — ``{"duplicates": n, "examples": [...]}``: messages delivered more than once
  (same API, same recipient, same content), counted from the log; see :func:`count_duplicates`.

Errors are injected with the platform's faults (``POST /_fake/faults``), e.g. ``{"errcode": 45009, "api":
"webhook_send"}`` (robot rate-limited), ``{"errcode": 45066, "api": "mass_sendall"}`` (too fast), ``{"errcode":
93000, "api": "webhook_send"}`` (invalid key), and latency with ``{"latency_ms": 50}``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from aiohttp import web

if TYPE_CHECKING:
    from wechat.fake_platform import FakePlatform


def job_events(messages: Iterable[Mapping[str, Any]], *, appid_user: str = "gh_fake_account") -> list[dict[str, Any]]:
    """The job-finish events WeChat would post for the mass sends and template messages in ``messages``."""
    events: list[dict[str, Any]] = []
    for m in messages:
        seconds = m["seq"]
        if m["api"] == "mass_sendall":
            total = len(m.get("recipients", []))
            events.append(
                {
                    "ToUserName": appid_user,
                    "FromUserName": "oFakeSystem",
                    "CreateTime": str(1_790_000_000 + seconds),
                    "MsgType": "event",
                    "Event": "MASSSENDJOBFINISH",
                    "MsgID": str(m["msg_id"]),
                    "Status": "send success",
                    "TotalCount": str(total),
                    "FilterCount": str(total),
                    "SentCount": str(total),
                    "ErrorCount": "0",
                }
            )
        elif m["api"] == "template_send":
            events.append(
                {
                    "ToUserName": appid_user,
                    "FromUserName": str(m["body"].get("touser", "")),
                    "CreateTime": str(1_790_000_000 + seconds),
                    "MsgType": "event",
                    "Event": "TEMPLATESENDJOBFINISH",
                    "MsgID": str(m["msgid"]),
                    "Status": "success",
                }
            )
    return events


def event_xml(event: Mapping[str, str]) -> str:
    """One event as the plain-text XML WeChat posts."""
    fields = "".join(f"<{k}><![CDATA[{escape(v)}]]></{k}>" for k, v in event.items())
    return f"<xml>{fields}</xml>"


def _identity(message: Mapping[str, Any]) -> str | None:
    api, body = message["api"], message.get("body")
    if api == "webhook_send":
        return f"robot:{message.get('key')}:{json.dumps(body, ensure_ascii=False, sort_keys=True)}"
    if api == "template_send" and isinstance(body, dict):
        return f"template:{body.get('touser')}:{json.dumps(body.get('data'), ensure_ascii=False, sort_keys=True)}"
    if api == "mass_sendall" and isinstance(body, dict):
        return f"mass:{json.dumps(body.get('filter'), sort_keys=True)}:{body.get('clientmsgid')}"
    if api == "loudspeaker_upload" and isinstance(body, dict):
        return f"speaker:{body.get('village')}:{body.get('notice_id')}:{body.get('slot')}"
    return None


def count_duplicates(messages: Iterable[Mapping[str, Any]]) -> tuple[int, list[str]]:
    """How many delivered messages repeat an earlier one (same API, recipient and content), and examples."""
    seen = Counter(i for i in (_identity(m) for m in messages) if i is not None)
    repeats = {k: n for k, n in seen.items() if n > 1}
    return sum(n - 1 for n in repeats.values()), sorted(repeats)[:5]


def install(platform: FakePlatform, app: web.Application) -> None:
    """Add the push endpoints to the fake platform's app."""

    async def get_events(request: web.Request) -> web.Response:
        return web.json_response(job_events(platform.messages))

    async def get_duplicates(request: web.Request) -> web.Response:
        n, examples = count_duplicates(platform.messages)
        return web.json_response({"duplicates": n, "examples": examples, "messages": len(platform.messages)})

    async def upload(request: web.Request) -> web.Response:
        platform.calls["loudspeaker_upload"] += 1
        form = await request.post()
        files = [
            {"name": f.filename, "size": len(f.file.read())}
            for f in form.getall("file", [])
            if isinstance(f, web.FileField)
        ]
        village, notice_id = form.get("village"), form.get("notice_id")
        if not isinstance(village, str) or not isinstance(notice_id, str) or not files:
            return web.json_response({"errcode": 40001, "errmsg": "village, notice_id and file are required"})
        body = {"village": village, "notice_id": notice_id, "slot": str(form.get("slot", "")), "files": files}
        platform.record("loudspeaker_upload", body)
        return web.json_response({"errcode": 0, "errmsg": "ok", "files": len(files)})

    app.router.add_get("/_fake/events", get_events)
    app.router.add_get("/_fake/duplicates", get_duplicates)
    app.router.add_post("/_vendor/loudspeaker/upload", upload)
