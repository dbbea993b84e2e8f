"""WeCom group robots (企业微信群机器人): ``POST {base}/cgi-bin/webhook/send?key=KEY``.

Text is at most 2,048 bytes of UTF-8, so a long message is split on paragraph boundaries (then lines,
then characters, never inside a UTF-8 sequence). :func:`post_text` posts one part once and gives the
platform's answer back as it came: push's robot channel decides what each ``errcode`` means for a
delivery, paces the 20-a-minute budget in the database and numbers the parts, so nothing here retries
or rate-limits. The key is a secret: it is never logged or put into an error message in full.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from wechat.errors import PlatformBusy, PlatformUnavailable, WeChatError

TEXT_LIMIT_BYTES = 2048
RATE_LIMITED = frozenset({45009, 130101})
INVALID_KEY = 93000


def mask_key(key: str) -> str:
    """A robot key safe to log: its first four characters."""
    return (key[:4] + "***") if key else "(empty)"


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _pack(pieces: list[str], sep: str, limit: int, split_piece: Callable[[str], list[str]]) -> list[str]:
    """Join ``pieces`` with ``sep`` into parts of at most ``limit`` bytes; a piece too long is split."""
    out: list[str] = []
    current = ""
    for piece in pieces:
        if _size(piece) > limit:
            if current:
                out.append(current)
            out.extend(split_piece(piece))
            current = ""
        elif not current or _size(current + sep + piece) <= limit:
            current = current + sep + piece if current else piece
        else:
            out.append(current)
            current = piece
    return [*out, current] if current else out


def split_message(text: str, limit_bytes: int) -> list[str]:
    """Split ``text`` into parts of at most ``limit_bytes`` UTF-8 bytes each.

    Paragraphs (separated by a blank line) are kept together where they fit; a paragraph too
    long is split on lines, a line too long on characters (a character always fits). Blank-only parts
    are dropped.
    """
    if limit_bytes < 4:
        raise ValueError("limit_bytes must be at least 4 (one UTF-8 character)")
    text = text.replace("\r\n", "\n").strip("\n")
    if not text.strip():
        return []
    if _size(text) <= limit_bytes:
        return [text]
    paragraphs = [p.strip("\n") for p in text.split("\n\n") if p.strip()]

    def split_paragraph(paragraph: str) -> list[str]:
        return _pack(paragraph.split("\n"), "\n", limit_bytes, lambda line: _pack(list(line), "", limit_bytes, list))

    return [p for p in _pack(paragraphs, "\n\n", limit_bytes, split_paragraph) if p.strip()]


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

    WeCom answers HTTP 200 with the ``errcode`` in the body. Raises :class:`PlatformUnavailable` when
    the connection failed (nothing was sent), :class:`SendTimedOut` when the answer did not come,
    :class:`PlatformBusy` on HTTP 5xx or a non-JSON body.
    """
    if _size(content) > TEXT_LIMIT_BYTES:
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
