"""One WeCom group-robot ``text`` message, posted once, with the platform's answer given back as it came.

Push's robot channel decides what each answer means for a delivery (``errcode`` 0 sent, 45009 and the
DingTalk-style 130101 later, 93000 invalid key), holds the rate budget in the database and numbers the
parts itself, so this does no retry and no rate limiting of its own (``wechat.robot.WeComRobot`` does both
for interactive use). WeCom answers HTTP 200 with the ``errcode`` in the body: it is always read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import aiohttp

from wechat.errors import PlatformBusy, PlatformUnavailable, WeChatError
from wechat.robot import TEXT_LIMIT_BYTES, mask_key

RATE_LIMITED = frozenset({45009, 130101})
INVALID_KEY = 93000


@dataclass(frozen=True)
class RobotAnswer:
    errcode: int
    errmsg: str

    @property
    def ok(self) -> bool:
        return self.errcode == 0


class SendTimedOut(WeChatError):
    """The request was sent but no answer came: the message may or may not have reached the group."""

    default_message = "企业微信未在时限内应答，消息可能已送达"


async def post_text(
    session: aiohttp.ClientSession, api_base: str, key: str, content: str, *, timeout: float = 10.0
) -> RobotAnswer:
    """POST one ``text`` message (≤ 2,048 bytes) to the robot ``key``; returns WeCom's answer.

    Raises :class:`PlatformUnavailable` when the connection failed (nothing was sent),
    :class:`SendTimedOut` when the answer did not come, :class:`PlatformBusy` on HTTP 5xx or a non-JSON body.
    """
    if len(content.encode("utf-8")) > TEXT_LIMIT_BYTES:
        raise ValueError("robot text is limited to 2,048 bytes of UTF-8")
    where = f"robot {mask_key(key)}"
    body = json.dumps({"msgtype": "text", "text": {"content": content}}, ensure_ascii=False).encode("utf-8")
    try:
        async with session.post(
            api_base.rstrip("/") + "/cgi-bin/webhook/send",
            params={"key": key},
            data=body,
            headers={"Content-Type": "application/json; charset=utf-8"},
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as resp:
            status = resp.status
            raw = await resp.read()
    except aiohttp.ClientConnectorError as exc:
        raise PlatformUnavailable(detail=f"{where}: {type(exc).__name__}") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise SendTimedOut(detail=f"{where}: {type(exc).__name__}") from None
    if status >= 500:
        raise PlatformBusy(detail=f"{where}: HTTP {status}")
    try:
        answer = json.loads(raw)
        return RobotAnswer(int(answer.get("errcode") or 0), str(answer.get("errmsg") or ""))
    except (ValueError, TypeError, AttributeError):
        raise PlatformBusy(detail=f"{where}: HTTP {status}, response is not JSON") from None
