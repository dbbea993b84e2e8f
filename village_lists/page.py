"""What villagers see of their village's list: the page (``GET /v/<村编码>``, standalone mobile-first
HTML) and the short text the bot sends for 我村公开.

Both show the items the village discloses, when each was last disclosed, and which are overdue.
Only 逾期未公开 findings are shown: the other defects are for the township staff.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from html import escape

from sqlalchemy.orm import Session

from village_lists.checker import Defect, check_village, overdue_rows
from village_lists.export import cn_date, group_rows
from village_lists.models import ListRow, Village
from village_lists.repository import get_village, list_rows

_CSS = """
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font-family: -apple-system, "PingFang SC", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif;
       font-size: 17px; line-height: 1.55; color: #1a1a1a; background: #f3f4f6; }
header { background: #0b6e4f; color: #fff; padding: 16px 16px 12px; }
header h1 { margin: 0; font-size: 22px; }
header p { margin: 4px 0 0; font-size: 14px; opacity: .9; }
.summary { margin: 12px; padding: 10px 12px; background: #fff; border-radius: 10px; font-size: 15px; }
.summary.warn { border-left: 5px solid #c0392b; }
ul.late { padding: 4px 0 0 18px; list-style: disc; }
ul.late li { background: none; padding: 0; margin: 2px 0; border-radius: 0; }
ul.late a { color: #c0392b; }
h2 { font-size: 17px; margin: 18px 16px 6px; color: #0b6e4f; }
ul { list-style: none; margin: 0; padding: 0 12px; }
li { background: #fff; border-radius: 10px; padding: 10px 12px; margin-bottom: 8px;
     overflow-wrap: anywhere; }
li.overdue { border-left: 5px solid #c0392b; }
.title { font-weight: 600; }
.seq { color: #666; font-weight: normal; margin-right: 4px; }
.limit, .content { font-size: 14px; color: #555; margin-top: 2px; }
.date { font-size: 15px; margin-top: 4px; }
.flag { display: inline-block; background: #c0392b; color: #fff; font-size: 13px; border-radius: 4px;
        padding: 0 6px; margin-left: 6px; }
details summary { font-size: 14px; color: #0b6e4f; cursor: pointer; }
footer { font-size: 13px; color: #666; padding: 16px; text-align: center; }
"""


def village_html(session: Session, code: str, today: dt.date) -> str:
    """The page of the village ``code`` (:class:`~core.errors.NotFound` for an unknown code)."""
    village = get_village(session, code)
    return render_village_page(
        village, list_rows(session, village.code), check_village(session, village.code, today), today
    )


def village_text(session: Session, code: str, today: dt.date) -> str:
    """A short text of the village's list: what is overdue, then the most recent disclosures."""
    village = get_village(session, code)
    rows = list_rows(session, village.code)
    late = overdue_rows(check_village(session, village.code, today))
    lines = [f"{village.name}村务公开清单（共 {len(rows)} 项，截至 {today.isoformat()}）"]
    if late:
        lines.append(f"逾期未公开 {len(late)} 项：")
        for row in (r for r in rows if r.seq in late):
            last = row.last_disclosed.isoformat() if row.last_disclosed else "无记录"
            lines.append(f"· {row.title}（最近公开：{last}）")
    else:
        lines.append("目前没有逾期未公开的事项。")
    recent = sorted((r for r in rows if r.last_disclosed), key=lambda r: (r.last_disclosed, -r.seq), reverse=True)
    if recent:
        lines.append("最近公开：")
        lines += [f"· {row.last_disclosed.isoformat()} {row.title}" for row in recent[:6] if row.last_disclosed]
    return "\n".join(lines)


def render_village_page(
    village: Village, rows: Sequence[ListRow] | Iterable[ListRow], defects: Sequence[Defect], today: dt.date
) -> str:
    """The village's list as a standalone mobile HTML page, overdue items flagged."""
    rows = list(rows)
    late = overdue_rows(list(defects))
    name = escape(village.name)
    township = escape(village.township.name) if village.township else ""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{name}村务公开</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<header><h1>{name}村务公开</h1><p>{township} · 更新至 {cn_date(today)}</p></header>",
    ]
    if late:
        parts.append(
            f'<div class="summary warn">共 {len(rows)} 项公开事项，其中 <strong>{len(late)} 项逾期未公开</strong>'
            '（已超过规定周期未更新），已提醒村委会尽快公开：<ul class="late">'
            + "".join(f'<li><a href="#row-{row.seq}">{escape(row.title)}</a></li>' for row in rows if row.seq in late)
            + "</ul></div>"
        )
    else:
        parts.append(f'<div class="summary">共 {len(rows)} 项公开事项，均按时公开。</div>')
    for group in group_rows(rows):
        parts.append(f"<h2>{escape(group.title)}</h2><ul>")
        for row in group.rows:
            is_late = row.seq in late
            date = f"最近公开：{cn_date(row.last_disclosed)}" if row.last_disclosed else "最近公开：尚未公开"
            flag = '<span class="flag">逾期未公开</span>' if is_late else ""
            cls = ' class="overdue"' if is_late else ""
            parts.append(
                f'<li{cls} id="row-{row.seq}"><div class="title"><span class="seq">{row.seq}.</span>'
                f"{escape(row.title)}</div>"
                f'<div class="date">{date}{flag}</div>'
                f'<div class="limit">公开时限：{escape(row.time_limit)}</div>'
                f'<details><summary>公开内容</summary><div class="content">{escape("、".join(row.elements))}</div>'
                "</details></li>"
            )
        parts.append("</ul>")
    parts.append("<footer>对公开内容有疑问，可向村务监督委员会反映，或在公众号里直接提问。</footer></body></html>")
    return "\n".join(parts)
