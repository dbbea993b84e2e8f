"""``cunwu report deliveries``: every delivery since a date, failed and uncertain first."""

from __future__ import annotations

import datetime as dt

import click
from sqlalchemy import case, select

from admin_cli.context import CliContext, pass_ctx
from admin_cli.notice_views import STATE_NAMES
from admin_cli.output import echo_json, echo_table
from core.clock import CHINA_TZ
from push.models import Delivery, NoticeSlot
from push.targeting import CHANNEL_NAMES

_FIRST = case((Delivery.state == "failed", 0), (Delivery.state == "uncertain", 1), else_=2)


@click.command("deliveries")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="只看此日期以来的投递（默认全部）")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@pass_ctx
def deliveries(obj: CliContext, since: dt.datetime | None, as_json: bool) -> None:
    """送达报告：失败与不确定的投递排在最前，并列出错过的发送时刻。"""
    start = since.replace(tzinfo=CHINA_TZ) if since is not None else None
    with obj.session() as session:
        query = select(Delivery).order_by(_FIRST, Delivery.notice_id, Delivery.channel, Delivery.target)
        missed_query = select(NoticeSlot).where(NoticeSlot.outcome == "missed").order_by(NoticeSlot.notice_id)
        if start is not None:
            query = query.where(Delivery.created_at >= start)
            missed_query = missed_query.where(NoticeSlot.at >= start)
        rows = [
            {
                "notice": d.notice_id,
                "channel": d.channel,
                "target": d.target,
                "state": d.state,
                "attempts": d.attempts,
                "error": d.error,
                "late": d.late,
            }
            for d in session.scalars(query)
        ]
        missed = [{"notice": s.notice_id, "slot": s.slot} for s in session.scalars(missed_query)]
    if as_json:
        echo_json({"deliveries": rows, "missed": missed})
        return
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    click.echo("投递：" + ("，".join(f"{STATE_NAMES[s]} {n}" for s, n in counts.items()) or "无"))
    problems = [r for r in rows if r["state"] in ("failed", "uncertain")]
    if problems:
        echo_table(
            "需要处理",
            ["通知", "渠道", "对象", "状态", "尝试", "原因"],
            [
                [
                    r["notice"],
                    CHANNEL_NAMES[r["channel"]],
                    r["target"],
                    STATE_NAMES[r["state"]],
                    r["attempts"],
                    r["error"],
                ]
                for r in problems
            ],
        )
    for m in missed:
        click.echo(f"已错过（超过补发时限，未发送）：{m['notice']} {m['slot']}")
