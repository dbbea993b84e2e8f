"""How ``cunwu notice`` shows things: the targeting plan, deliveries (table and JSON), the preview."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from push.models import Delivery, Notice
from push.settings import PushSettings
from push.targeting import CHANNEL_NAMES, Plan
from push.text import mass_text, reminder_text, robot_parts, template_data

STATE_NAMES = {
    "pending": "待发送",
    "sending": "发送中",
    "sent": "已发送",
    "failed": "失败",
    "uncertain": "不确定",
    "cancelled": "已取消",
}
_ORDER = {"failed": 0, "uncertain": 1, "sending": 2, "pending": 3, "sent": 4, "cancelled": 5}


def print_plan(plan: Plan) -> None:
    by_channel: dict[str, int] = {}
    for t in plan.targets:
        by_channel[t.channel] = by_channel.get(t.channel, 0) + 1
    if by_channel:
        click.echo("  发送对象：" + "，".join(f"{CHANNEL_NAMES[c]} {n}" for c, n in by_channel.items()))
    for line in plan.dropped:
        click.echo(f"  已去掉渠道 {line}")
    for line in plan.unconfigured:
        click.echo(f"  未配置渠道：{line}")


def notice_json(session: Session, notice: Notice) -> dict[str, Any]:
    rows = session.scalars(
        select(Delivery)
        .where(Delivery.notice_id == notice.id)
        .order_by(Delivery.channel, Delivery.target, Delivery.slot)
    )
    return {
        "id": notice.id,
        "status": notice.status,
        "deliveries": [
            {
                "channel": d.channel,
                "target": d.target,
                "state": d.state,
                "attempts": d.attempts,
                "error": d.error,
                "slot": d.slot,
                "kind": d.kind,
                "late": d.late,
                "note": d.note,
                "delivery_id": d.id,
            }
            for d in rows
        ],
    }


def delivery_rows(deliveries: list[dict[str, Any]]) -> list[list[Any]]:
    ordered = sorted(deliveries, key=lambda d: (_ORDER.get(d["state"], 9), d["channel"], d["target"]))
    out = []
    for d in ordered:
        state = STATE_NAMES.get(d["state"], d["state"]) + ("（补发）" if d["late"] else "")
        target = d["target"] if d["channel"] != "template" else d["target"][:6] + "…"
        kind = "（提醒）" if d["kind"] == "reminder" else ""
        out.append(
            [
                CHANNEL_NAMES.get(d["channel"], d["channel"]) + kind,
                target,
                state,
                d["attempts"],
                d["error"] or d["note"],
            ]
        )
    return out


def print_preview(notice: Notice, plan: Plan, settings: PushSettings) -> None:
    """Exactly what each target would receive."""
    for line in plan.dropped:
        click.echo(f"（已去掉渠道 {line}）")
    url = settings.page_url(notice.id)
    shown: set[str] = set()
    for target in plan.targets:
        if target.channel == "robot":
            parts = robot_parts(notice, url)
            click.echo(f"== 微信群 {target.label}（text，{len(parts)} 条）==")
            for part in parts:
                click.echo(f"[{len(part.encode('utf-8'))} 字节]\n{part}\n")
        elif target.channel == "oa_mass":
            click.echo(f"== {target.label}（群发 text）==\n{mass_text(notice, url)}\n")
        elif target.channel == "template" and "template" not in shown:
            shown.add("template")
            n = sum(1 for t in plan.targets if t.channel == "template")
            fields = template_data(notice, notice.send_at or notice.created_at)
            click.echo(f"== 模板消息（{n} 位关注者）==\n{fields}\n链接：{url}\n")
        elif target.channel == "loudspeaker" and "loudspeaker" not in shown:
            shown.add("loudspeaker")
            from push.notices import to_notice_file
            from push.speech.script import build_script

            click.echo(f"== 大喇叭播音稿（各村相同）==\n{build_script(to_notice_file(notice)).text}")
    if notice.publicity_days:
        click.echo(f"== 公示期满提醒（村民代表群）==\n{reminder_text(notice)}")
