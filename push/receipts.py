"""Delivery receipts: ``MASSSENDJOBFINISH`` and ``TEMPLATESENDJOBFINISH`` events update the delivery rows.

WeChat posts these events to the bot's endpoint; ``admin_cli`` hands the handlers below to the bot
(``create_app(events=…)``), so bot and push never import each other. A handler gets the bot's
``EventContext`` (``ctx.message.raw`` holds the event's XML fields, ``ctx.sessionmaker`` an async session
factory) and returns ``None`` (reply ``success``). The row is found by the ``msg_id`` the send returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from push.models import Delivery

MASS_EVENT = "MASSSENDJOBFINISH"
TEMPLATE_EVENT = "TEMPLATESENDJOBFINISH"


def mass_outcome(raw: Mapping[str, Any]) -> tuple[str | None, str]:
    """(new state or None to keep ``sent``, note) for a MASSSENDJOBFINISH event."""
    status = str(raw.get("Status", ""))
    total, kept = raw.get("TotalCount", "?"), raw.get("FilterCount", "?")
    sent, errors = raw.get("SentCount", "?"), raw.get("ErrorCount", "?")
    counts = f"总数 {total}，过滤后 {kept}，成功 {sent}，失败 {errors}"
    if status == "send success":
        return None, f"群发完成：{counts}"
    return "failed", f"群发失败（{status}）：{counts}"


def template_outcome(raw: Mapping[str, Any]) -> tuple[str | None, str]:
    status = str(raw.get("Status", ""))
    if status == "success":
        return None, "已送达"
    if "user block" in status:
        return "failed", "用户拒收模板消息"
    return "failed", f"模板消息未送达（{status}）"


async def apply_receipt(
    sessionmaker: async_sessionmaker[AsyncSession], channel: str, msg_id: str, state: str | None, note: str
) -> int:
    """Write a receipt to the delivery whose send returned ``msg_id``; returns rows updated."""
    if not msg_id:
        return 0
    values: dict[str, Any] = {"note": note}
    if state is not None:
        values.update(state=state, error=note)
    async with sessionmaker() as session, session.begin():
        result = await session.execute(
            update(Delivery).where(Delivery.channel == channel, Delivery.external_id == msg_id).values(**values)
        )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def on_mass_send_finished(ctx: Any) -> str | None:
    raw = ctx.message.raw
    state, note = mass_outcome(raw)
    await apply_receipt(ctx.sessionmaker, "oa_mass", str(raw.get("MsgID") or raw.get("MsgId") or ""), state, note)
    return None


async def on_template_send_finished(ctx: Any) -> str | None:
    raw = ctx.message.raw
    state, note = template_outcome(raw)
    await apply_receipt(ctx.sessionmaker, "template", str(raw.get("MsgID") or raw.get("MsgId") or ""), state, note)
    return None


HANDLERS = {MASS_EVENT: on_mass_send_finished, TEMPLATE_EVENT: on_template_send_finished}
"""Event name → handler, for the composition root to register."""
