"""What each channel's message says: robot ``text`` parts, the mass-send text, template fields.

Group robots get ``text`` (village groups hold WeChat users, whose clients cannot show markdown): tables are
turned into readable lines, and a notice longer than 2,048 bytes of UTF-8 is split on paragraph boundaries
into numbered parts (（1/3）…), the last one ending with the link to the notice page. Template fields hold at
most 20 characters with no line breaks, so a template message is a title, a date and the link.
"""

from __future__ import annotations

import datetime as dt
import re

from core.clock import CHINA_TZ
from push.models import Notice
from push.targeting import REMINDER_TEXT
from wechat.robot import TEXT_LIMIT_BYTES, split_message

TEMPLATE_FIELD_LIMIT = 20
_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def readable_body(body: str) -> str:
    """The body with each Markdown table turned into one line per row (村：户数 498，面积 5,236.40 …)."""
    out: list[str] = []
    header: list[str] | None = None
    for line in body.replace("\r\n", "\n").split("\n"):
        if line.strip().startswith("|"):
            if _SEPARATOR.match(line):
                continue
            cells = _cells(line)
            if header is None:
                header = cells
                continue
            label, rest = cells[0], cells[1:]
            pairs = [
                f"{h}{v}" if h.endswith(("）", ")")) else f"{h} {v}" for h, v in zip(header[1:], rest, strict=False)
            ]
            named = header[0] in ("姓名", "户主") and "合计" not in label
            out.append((f"{header[0]}{label}：" if named else f"{label}：") + "，".join(pairs))
            continue
        header = None
        out.append(line.rstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def date_text(when: dt.datetime | dt.date) -> str:
    day = when.astimezone(CHINA_TZ).date() if isinstance(when, dt.datetime) else when
    return f"{day.year}年{day.month}月{day.day}日"


def full_text(notice: Notice, *, late: bool = False) -> str:
    head = f"{'【补发】' if late else ''}【{notice.kind}】{notice.title}"
    return head + "\n\n" + readable_body(notice.body)


def robot_parts(notice: Notice, page_url: str, *, late: bool = False, limit: int = TEXT_LIMIT_BYTES) -> list[str]:
    """The ``text`` messages for a group robot, each at most ``limit`` bytes of UTF-8, the link at the end."""
    footer = f"\n\n详情：{page_url}"
    text = full_text(notice, late=late)
    if len((text + footer).encode("utf-8")) <= limit:
        return [text + footer]
    reserve = len("（99/99）\n".encode()) + len(footer.encode("utf-8"))
    pieces = split_message(text, limit - reserve)
    total = len(pieces)
    parts = [f"（{i}/{total}）\n{piece}" for i, piece in enumerate(pieces, 1)]
    parts[-1] += footer
    return parts


def reminder_text(notice: Notice) -> str:
    return f"【公示期满提醒】{notice.title}\n{REMINDER_TEXT}。"


def mass_text(notice: Notice, page_url: str, *, late: bool = False) -> str:
    return full_text(notice, late=late) + f"\n\n详情：{page_url}"


def _field(text: str) -> str:
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= TEMPLATE_FIELD_LIMIT else flat[: TEMPLATE_FIELD_LIMIT - 1] + "…"


def template_data(notice: Notice, when: dt.datetime) -> dict[str, str]:
    """Template fields: ``thing1`` the title, ``time2`` the date (≤ 20 characters each, one line)."""
    return {"thing1": _field(notice.title), "time2": _field(date_text(when))}
