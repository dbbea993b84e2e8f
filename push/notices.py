"""Notices in the database: import and edit (validated), the lifecycle, and 发布审查 (approval).

Lifecycle: draft → approved → scheduled → sending → done, or cancelled; every change is a
``NoticeEvent`` row saying who and when. Approval is by a named reviewer who is not the author,
after the privacy check (``push.speech.privacy.privacy_problems``) and the channel check (every
target has its channel configured) pass. Editing an approved notice sends it back to draft; nothing
unapproved is ever enqueued (``push.scheduler`` only reads approved notices).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from content.repository import active_codes
from core.errors import AppError, NotFound, Problem, ValidationFailed
from push.models import Delivery, Notice, NoticeEvent
from push.notice_file import NoticeFile, load_notice, validate_mapping
from push.speech.privacy import privacy_problems
from village_lists.repository import list_villages

EDITABLE = ("draft", "approved", "scheduled", "sending")
_CONTENT_FIELDS = (
    "kind",
    "title",
    "body",
    "items",
    "villages",
    "groups",
    "channels",
    "schedule",
    "send_at",
    "cron",
    "valid_from",
    "valid_until",
    "publicity_days",
    "priority",
)


class NoticeRefused(AppError):
    """An action the notice's state or the review rules do not allow; the message says why."""


def known_villages(session: Session) -> dict[str, list[str]]:
    """Village code → its WeChat group names (what targets are validated against)."""
    return {v.code: list(v.wechat_groups) for v in list_villages(session)}


def load_for_import(session: Session, path: str | Path) -> NoticeFile:
    """Read and validate a notice file against the catalog and the villages in the database."""
    return load_notice(path, known_codes=active_codes(session), known_villages=known_villages(session))


def get_notice(session: Session, notice_id: str) -> Notice:
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise NotFound(f"找不到通知 {notice_id}（先用 cunwu notice import 导入）")
    return notice


def list_notices(session: Session, status: str | None = None) -> list[Notice]:
    query = select(Notice).order_by(Notice.id)
    if status:
        query = query.where(Notice.status == status)
    return list(session.scalars(query))


def record(session: Session, notice: Notice, actor: str, action: str, to_status: str, detail: str, now: dt.datetime):  # type: ignore[no-untyped-def]
    """Change the notice's status and keep the change in its history."""
    event = NoticeEvent(
        notice_id=notice.id,
        at=now,
        actor=actor,
        action=action,
        from_status=notice.status,
        to_status=to_status,
        detail=detail,
    )
    notice.status = to_status
    notice.updated_at = now
    session.add(event)
    return event


def history(session: Session, notice_id: str) -> list[NoticeEvent]:
    return list(session.scalars(select(NoticeEvent).where(NoticeEvent.notice_id == notice_id).order_by(NoticeEvent.id)))


def _values(nf: NoticeFile) -> dict[str, Any]:
    return {
        "kind": nf.kind,
        "title": nf.title,
        "body": nf.body,
        "items": list(nf.items),
        "villages": nf.villages if nf.villages == "all" else list(nf.villages),
        "groups": list(nf.groups),
        "channels": list(nf.channels),
        "schedule": nf.schedule,
        "send_at": nf.send_at,
        "cron": nf.cron,
        "valid_from": nf.valid_from,
        "valid_until": nf.valid_until,
        "publicity_days": nf.publicity_days,
        "priority": nf.priority,
    }


def save_notice(session: Session, nf: NoticeFile, *, by: str, now: dt.datetime, action: str = "import") -> str:
    """Create or update a notice from a validated ``NoticeFile``; returns added, updated or unchanged.

    An update of an approved or scheduled notice sends it back to draft (it needs a new review).
    """
    values = _values(nf)
    notice = session.get(Notice, nf.id)
    if notice is None:
        notice = Notice(id=nf.id, author=by, status="draft", source_path=str(nf.path), created_at=now, **values)
        session.add(notice)
        session.flush()
        session.add(NoticeEvent(notice_id=nf.id, at=now, actor=by, action=action, to_status="draft"))
        return "added"
    if all(_same(getattr(notice, key), value) for key, value in values.items()):
        return "unchanged"
    if notice.status not in EDITABLE:
        raise NoticeRefused(f"通知 {notice.id} 处于“{notice.status}”状态，不能再修改（可另建一条通知）")
    changed = [key for key, value in values.items() if not _same(getattr(notice, key), value)]
    for key, value in values.items():
        setattr(notice, key, value)
    notice.generation += 1
    notice.approved_by = None
    notice.approved_at = None
    if nf.path and str(nf.path) not in ("", "."):
        notice.source_path = str(nf.path)
    back = "（已退回草稿，需重新审查）" if notice.status != "draft" else ""
    result = session.execute(
        update(Delivery)
        .where(Delivery.notice_id == notice.id, Delivery.state == "pending")
        .values(state="cancelled", error="通知已修改，待重新审查")
    )
    withdrawn = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if withdrawn:
        back += f"；{withdrawn} 条待发投递已取消"
    record(session, notice, by, "edit", "draft", "修改了：" + "、".join(changed) + back, now)
    return "updated"


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, dt.datetime) and isinstance(new, dt.datetime):
        return old == new
    return bool(old == new)


def to_notice_file(notice: Notice) -> NoticeFile:
    """The notice as the ``NoticeFile`` the speech renderer and targeting read."""
    villages = notice.villages if notice.villages == "all" else tuple(notice.villages)
    send_at = notice.send_at
    return NoticeFile(
        path=Path(notice.source_path or f"{notice.id}.yaml"),
        id=notice.id,
        kind=notice.kind,
        title=notice.title,
        body=notice.body,
        items=tuple(notice.items),
        villages=villages,
        groups=tuple(notice.groups),
        channels=tuple(notice.channels),
        schedule=notice.schedule,
        send_at=send_at,
        cron=notice.cron,
        repeat="cron" if notice.cron else None,
        valid_from=notice.valid_from,
        valid_until=notice.valid_until,
        publicity_days=notice.publicity_days,
        priority=notice.priority,
    )


def edit_notice(session: Session, notice_id: str, changes: Mapping[str, Any], *, by: str, now: dt.datetime) -> str:
    """Apply field changes (as in the YAML format), validated like an import."""
    notice = get_notice(session, notice_id)
    current = to_notice_file(notice)
    data = _as_mapping(current)
    data.update({k: v for k, v in changes.items() if v is not None})
    nf = validate_mapping(data, current.path, known_codes=active_codes(session), known_villages=known_villages(session))
    return save_notice(session, nf, by=by, now=now, action="edit")


def _as_mapping(nf: NoticeFile) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": nf.id,
        "kind": nf.kind,
        "title": nf.title,
        "body": nf.body,
        "items": list(nf.items),
        "targets": {"villages": nf.villages if nf.villages == "all" else list(nf.villages), "groups": list(nf.groups)},
        "channels": list(nf.channels),
        "schedule": nf.schedule,
    }
    for key in ("repeat", "valid_from", "valid_until", "publicity_days", "priority"):
        value = getattr(nf, key)
        if value is not None:
            data[key] = value.isoformat() if isinstance(value, dt.date) else value
    return data


def review_problems(session: Session, notice: Notice, unconfigured: Sequence[str]) -> list[str]:
    """Everything that blocks approval: personal data in the text, targets without a configured channel."""
    problems = privacy_problems(notice.title + "\n" + notice.body)
    problems += [f"未配置渠道：{line}" for line in unconfigured]
    return problems


def approve(session: Session, notice_id: str, *, by: str, now: dt.datetime, unconfigured: Sequence[str]) -> Notice:
    """Approve a draft as reviewer ``by`` (not its author) once the privacy and channel checks pass."""
    notice = get_notice(session, notice_id)
    by = by.strip()
    if not by:
        raise NoticeRefused("审查人姓名不能为空（--by 姓名）")
    if notice.status != "draft":
        raise NoticeRefused(f"通知 {notice.id} 处于“{notice.status}”状态，只有草稿可以审查通过")
    if by == notice.author:
        raise NoticeRefused(f"审查人不能是通知的作者（{notice.author}）：发布审查须由另一位工作人员完成")
    problems = review_problems(session, notice, unconfigured)
    if problems:
        raise ValidationFailed(
            [Problem(notice.id, None, None, p) for p in problems], f"通知 {notice.id} 未通过发布审查，未批准"
        )
    notice.approved_by = by
    notice.approved_at = now
    record(session, notice, by, "approve", "approved", "", now)
    return notice


def cancel(session: Session, notice_id: str, *, by: str, now: dt.datetime) -> int:
    """Cancel a notice and its pending deliveries; returns how many deliveries were cancelled."""
    notice = get_notice(session, notice_id)
    if notice.status in ("done", "cancelled"):
        raise NoticeRefused(f"通知 {notice.id} 已是“{notice.status}”状态")
    result = session.execute(
        update(Delivery)
        .where(Delivery.notice_id == notice.id, Delivery.state == "pending")
        .values(state="cancelled", error="通知已撤销")
    )
    record(session, notice, by, "cancel", "cancelled", "", now)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def require_sendable(notice: Notice) -> None:
    """Raise unless the notice is approved (and not cancelled or finished)."""
    if notice.status not in ("approved", "scheduled", "sending", "done") or not notice.approved_by:
        raise NoticeRefused(f"通知 {notice.id} 尚未通过发布审查（状态：{notice.status}），不能发送")
    if notice.status == "cancelled":
        raise NoticeRefused(f"通知 {notice.id} 已撤销")


def replace_file(nf: NoticeFile, **changes: Any) -> NoticeFile:
    return dataclasses.replace(nf, **changes)


def resolve_uncertain(
    session: Session, notice_id: str, outcome: str, *, by: str, now: dt.datetime, delivery_id: int | None = None
) -> int:
    """Settle ``uncertain`` deliveries after a person checked the group: ``sent``, or ``resend`` (queue again)."""
    notice = get_notice(session, notice_id)
    where = [Delivery.notice_id == notice.id, Delivery.state == "uncertain"]
    if delivery_id is not None:
        where.append(Delivery.id == delivery_id)
    if outcome == "sent":
        values: dict[str, Any] = {"state": "sent", "sent_at": now, "note": f"{by} 核实已送达"}
    elif outcome == "resend":
        values = {"state": "pending", "due_at": now, "note": f"{by} 核实未送达，重新发送"}
    else:
        raise ValueError("outcome must be sent or resend")
    result = session.execute(update(Delivery).where(*where).values(**values))
    n = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if n:
        session.add(
            NoticeEvent(
                notice_id=notice.id,
                at=now,
                actor=by,
                action="resolve",
                from_status=notice.status,
                to_status=notice.status,
                detail=f"{n} 条不确定的投递：{'已送达' if outcome == 'sent' else '重新发送'}",
            )
        )
    return n
