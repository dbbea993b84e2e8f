"""The push side of the fake platform: job-finish events, a loudspeaker vendor, and duplicate counting.

Mounted by :class:`wechat.fake_platform.FakePlatform` (``install(platform, app)``):

- ``POST /_vendor/loudspeaker/upload`` — a loudspeaker vendor's upload API: multipart ``village``,
  ``notice_id`` and one or more ``file`` parts; answers ``{"errcode": 0, "files": n}`` and records
  ``loudspeaker_upload`` in the message log.
- ``GET /_fake/duplicates`` — ``{"duplicates": n, "examples": [...]}``: messages delivered more than once
  (same API, same recipient, same content), counted from the log; see :func:`count_duplicates`.

:func:`job_events` derives from the message log the ``MASSSENDJOBFINISH`` and ``TEMPLATESENDJOBFINISH``
events WeChat would post to the account's server, so they always agree with it
(:func:`~wechat.xml.render_xml` writes one as WeChat's XML).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from wechat.fake_platform import FakePlatform


def job_events(messages: Iterable[Mapping[str, Any]], *, appid_user: str = "gh_fake_account") -> list[dict[str, str]]:
    """The job-finish events WeChat would post for the mass sends and template messages in ``messages``."""
    events: list[dict[str, str]] = []
    for m in messages:
        if m["api"] == "mass_sendall":
            total = str(len(m.get("recipients", [])))
            sender = "oFakeSystem"
            fields = {"Event": "MASSSENDJOBFINISH", "MsgID": str(m["msg_id"]), "Status": "send success"}
            fields |= {"TotalCount": total, "FilterCount": total, "SentCount": total, "ErrorCount": "0"}
        elif m["api"] == "template_send":
            sender = str(m["body"].get("touser", ""))
            fields = {"Event": "TEMPLATESENDJOBFINISH", "MsgID": str(m["msgid"]), "Status": "success"}
        else:
            continue
        head = {"ToUserName": appid_user, "FromUserName": sender, "CreateTime": str(1_790_000_000 + m["seq"])}
        events.append({**head, "MsgType": "event", **fields})
    return events


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

    async def get_duplicates(request: web.Request) -> web.Response:
        n, examples = count_duplicates(platform.messages)
        return web.json_response({"duplicates": n, "examples": examples, "messages": len(platform.messages)})

    async def upload(request: web.Request) -> web.Response:
        platform.calls["loudspeaker_upload"] += 1
        form = await request.post()
        files = []
        for f in form.getall("file", []):
            if isinstance(f, web.FileField):
                with f.file:  # (aiohttp spools each upload to a temporary file: closed here, not by the GC)
                    files.append({"name": f.filename, "size": len(f.file.read())})
        village, notice_id = form.get("village"), form.get("notice_id")
        if not isinstance(village, str) or not isinstance(notice_id, str) or not files:
            return web.json_response({"errcode": 40001, "errmsg": "village, notice_id and file are required"})
        body = {"village": village, "notice_id": notice_id, "slot": str(form.get("slot", "")), "files": files}
        platform.record("loudspeaker_upload", body)
        return web.json_response({"errcode": 0, "errmsg": "ok", "files": len(files)})

    app.router.add_get("/_fake/duplicates", get_duplicates)
    app.router.add_post("/_vendor/loudspeaker/upload", upload)
