"""``GET /n/<id>``: a notice as a mobile page, in the style of the village page. Template messages and long robot
messages link here, because a template message can only carry a title, a date and a link.

The page shows the title, the date, the body with its tables, the publicity period (counted in working days)
and the contact telephones. A 社会救助公示 that lists people shows only its summary ("名单请在本村公示栏查看"),
never the list: the page is public, the list is for the village. Only approved notices are shown.

Wiring (push-side, so the bot never imports push): ``app.router.add_routes(notice_routes(engine))``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from html import escape

from aiohttp import web
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.clock import CHINA_TZ
from push.models import Notice, NoticeSlot
from push.scheduler import publicity_end
from push.speech.privacy import scrub
from push.targeting import lists_people
from push.text import date_text

PUBLIC_STATES = ("approved", "scheduled", "sending", "done")
LIST_WITHHELD = "名单请在本村公示栏查看"
_ID = re.compile(r"^TZ-\d{4}-\d{3}$")
_PHONE = re.compile(r"(?<![\d-])(?:0\d{2,3}-\d{7,8}|12\d{3,4})(?![\d-])")
_CSS = """
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font-family: -apple-system, "PingFang SC", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif;
       font-size: 17px; line-height: 1.6; color: #1a1a1a; background: #f3f4f6; }
header { background: #0b6e4f; color: #fff; padding: 16px 16px 12px; }
header h1 { margin: 0; font-size: 21px; }
header p { margin: 4px 0 0; font-size: 14px; opacity: .9; }
main { margin: 12px; padding: 12px 14px; background: #fff; border-radius: 10px; overflow-wrap: anywhere; }
main p { margin: 0 0 10px; }
.table { overflow-x: auto; margin: 0 0 12px; }
table { border-collapse: collapse; font-size: 14px; min-width: 100%; }
th, td { border: 1px solid #d5d8dc; padding: 4px 6px; text-align: left; white-space: nowrap; }
th { background: #eef6f2; }
.box { margin: 12px; padding: 10px 12px; background: #fff; border-radius: 10px; font-size: 15px; }
.box.period { border-left: 5px solid #0b6e4f; }
.box.withheld { border-left: 5px solid #c0392b; }
.box a { color: #0b6e4f; }
footer { font-size: 13px; color: #666; padding: 16px; text-align: center; }
"""


def _table_html(lines: list[str]) -> str:
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines]
    rows = [r for r in rows if not all(re.fullmatch(r":?-{2,}:?", c) for c in r if c)]
    if not rows:
        return ""
    head = "".join(f"<th>{escape(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
    return f'<div class="table"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def body_html(body: str, *, withhold_lists: bool) -> str:
    """Paragraphs and tables; with ``withhold_lists`` a table is replaced by one line saying where the list is."""
    out: list[str] = []
    table: list[str] = []
    for line in [*body.splitlines(), ""]:
        if line.strip().startswith("|"):
            table.append(line)
            continue
        if table:
            out.append(f'<p class="withheld">（{LIST_WITHHELD}）</p>' if withhold_lists else _table_html(table))
            table = []
        if line.strip():
            text = scrub(line.strip()) if withhold_lists else line.strip()  # 其中鲁*明… → 其中一位村民…
            out.append(f"<p>{escape(text)}</p>")
    return "\n".join(out)


def render_notice_page(notice: Notice, first_sent: dt.datetime | None) -> str:
    """The notice as a standalone mobile HTML page."""
    when = first_sent or notice.send_at
    people = lists_people(notice)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(notice.title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<header><h1>{escape(notice.title)}</h1><p>{escape(notice.kind)}"
        + (f" · {date_text(when)}" if when else "")
        + f" · {escape(notice.id)}</p></header>",
    ]
    if people:
        parts.append(f'<div class="box withheld">本公示含个人信息，网页只显示摘要。{LIST_WITHHELD}。</div>')
    parts.append(f"<main>{body_html(notice.body, withhold_lists=people)}</main>")
    if notice.publicity_days and when:
        start = when.astimezone(CHINA_TZ).date()
        end = publicity_end(start, notice.publicity_days)
        parts.append(
            f'<div class="box period">公示期：{date_text(start)}至{date_text(end)}'
            f"（{notice.publicity_days} 个工作日）。有异议请在公示期内反映。</div>"
        )
    phones = list(dict.fromkeys(_PHONE.findall(notice.body)))
    if phones:
        links = "、".join(f'<a href="tel:{p}">{p}</a>' for p in phones)
        parts.append(f'<div class="box contacts">联系电话：{links}</div>')
    parts.append("<footer>村务通 · 政务公开</footer></body></html>")
    return "\n".join(parts)


def _load(engine: Engine, notice_id: str) -> str | None:
    with Session(engine) as session:
        notice = session.get(Notice, notice_id)
        if notice is None or notice.status not in PUBLIC_STATES:
            return None
        first = session.scalar(
            select(NoticeSlot.slot)
            .where(
                NoticeSlot.notice_id == notice_id,
                NoticeSlot.outcome.in_(("enqueued", "late")),
                ~NoticeSlot.slot.like("reminder%"),
            )
            .order_by(NoticeSlot.slot)
        )
        sent = dt.datetime.fromisoformat(first.replace("Z", "+00:00")) if first else None
        return render_notice_page(notice, sent)


class NoticePage:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def get(self, request: web.Request) -> web.Response:
        notice_id = request.match_info.get("id", "")
        html = await asyncio.to_thread(_load, self.engine, notice_id) if _ID.match(notice_id) else None
        if html is None:
            body = (
                '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
                '<meta name="viewport" content="width=device-width, initial-scale=1"><title>没有找到这条通知</title>'
                f"</head><body><p>没有找到编号为 {escape(notice_id)} 的通知，或通知尚未发布。</p></body></html>"
            )
            return web.Response(text=body, status=404, content_type="text/html", charset="utf-8")
        return web.Response(text=html, content_type="text/html", charset="utf-8", headers={"Cache-Control": "no-cache"})


def notice_routes(engine: Engine) -> list[web.RouteDef]:
    """The routes of the notice page, for the composition root to add to the bot's app."""
    return [web.get("/n/{id}", NoticePage(engine).get)]
