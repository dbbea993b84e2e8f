"""Reading the fake platform's message log the way push's tests need: WeChat's job-finish events for
the sends in it, and messages delivered more than once."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any


def job_events(messages: Iterable[Mapping[str, Any]], *, appid_user: str = "gh_fake_account") -> list[dict[str, str]]:
    """The ``MASSSENDJOBFINISH`` and ``TEMPLATESENDJOBFINISH`` events WeChat would post to the account's
    server for the mass sends and template messages in ``messages`` (so they always agree with it)."""
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
