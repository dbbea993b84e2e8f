"""Scheduling from the notices table: which slots are due, enqueue them once, late (补发) or missed.

``sweep`` is idempotent and safe to run from several processes at once: each slot is claimed by inserting
its ``push_notice_slots`` row (primary key notice + slot; a second scheduler gets an integrity error and
skips it), and deliveries are inserted under their unique key. A slot found less than the misfire grace
(default 6 h) after its time is sent late and marked 补发; an older one is recorded as missed and reported,
not sent. Publicity periods (公示期) are counted in working days (``village_lists.workdays``); when one ends,
the target villages get a reminder in their representatives' group.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.clock import CHINA_TZ
from push import queue
from push.delivery import FINAL_STATES
from push.models import Delivery, Notice, NoticeSlot
from push.notices import record
from push.settings import PushSettings
from push.targeting import Target, plan_targets, reminder_targets
from village_lists.workdays import add_workdays

LATE_AFTER = dt.timedelta(minutes=2)
REMINDER_HOUR = dt.time(9, 0)
ACTIVE = ("approved", "scheduled", "sending")
ACTOR = "scheduler"


def slot_key(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%MZ")


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _weekday_names(field: str) -> str:
    """Crontab's day of week (0 and 7 are Sunday) as names: APScheduler 3's numbers start at Monday."""
    out = []
    for part in field.split(","):
        base, slash, step = part.partition("/")
        base = re.sub(r"\d+", lambda m: _WEEKDAYS[int(m.group()) % 7], base)
        out.append(base + slash + step)
    return ",".join(out)


def cron_trigger(expression: str, start: dt.datetime | None = None, end: dt.datetime | None = None) -> CronTrigger:
    """A 5-field crontab expression as an APScheduler trigger in China time, Sunday = 0 as in crontab."""
    minute, hour, day, month, weekday = expression.split()
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=_weekday_names(weekday),
        start_date=start,
        end_date=end,
        timezone=CHINA_TZ,
    )


def cron_slots(notice: Notice, start: dt.datetime, end: dt.datetime) -> Iterator[dt.datetime]:
    """Fire times of a cron notice in ``(start, end]``, inside ``valid_from``/``valid_until`` (China dates)."""
    assert notice.cron is not None
    trigger = cron_trigger(notice.cron)
    if notice.valid_from is not None:
        start = max(
            start, dt.datetime.combine(notice.valid_from, dt.time(0), tzinfo=CHINA_TZ) - dt.timedelta(seconds=1)
        )
    previous = None
    now = start.astimezone(CHINA_TZ)
    while True:
        fire = trigger.get_next_fire_time(previous, now)
        if fire is None or fire > end:
            return
        if notice.valid_until is not None and fire.astimezone(CHINA_TZ).date() > notice.valid_until:
            return
        if fire > start:
            yield fire
        previous, now = fire, fire + dt.timedelta(seconds=1)


def due_slots(notice: Notice, now: dt.datetime, grace: dt.timedelta) -> list[dt.datetime]:
    """The notice's slots at or before ``now`` (for cron: since approval less the grace)."""
    if notice.cron:
        since = (notice.approved_at or now) - grace
        return list(cron_slots(notice, since, now))
    if notice.send_at is not None and notice.send_at <= now:
        return [notice.send_at]
    return []


def next_slot(notice: Notice, now: dt.datetime) -> dt.datetime | None:
    if notice.cron:
        return next(cron_slots(notice, now, now + dt.timedelta(days=400)), None)
    return notice.send_at if notice.send_at is not None and notice.send_at > now else None


def publicity_end(start: dt.date, days: int) -> dt.date:
    """The last day of a publicity period of ``days`` working days starting on ``start`` (counted if a working day)."""
    return add_workdays(start - dt.timedelta(days=1), days)


def reminder_time(notice: Notice, first_slot: dt.datetime) -> dt.datetime | None:
    """09:00 on the first working day after the 公示期 that began at ``first_slot``."""
    if not notice.publicity_days:
        return None
    end = publicity_end(first_slot.astimezone(CHINA_TZ).date(), notice.publicity_days)
    return dt.datetime.combine(add_workdays(end, 1), REMINDER_HOUR, tzinfo=CHINA_TZ)


@dataclass
class SweepReport:
    enqueued: list[str] = field(default_factory=list)  # "TZ-…@slot"
    late: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    deliveries: int = 0
    done: list[str] = field(default_factory=list)
    progress: Callable[[int, int], None] | None = None  # called while a large fan-out is enqueued


def _claim_slot(session: Session, notice_id: str, key: str, outcome: str, now: dt.datetime) -> bool:
    """Insert the slot row; False when another scheduler (or an earlier pass) has it already."""
    if session.get(NoticeSlot, (notice_id, key)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(NoticeSlot(notice_id=notice_id, slot=key, outcome=outcome, at=now))
    except IntegrityError:
        return False
    return True


def _rows(notice: Notice, targets: list[Target], key: str, now: dt.datetime, *, late: bool, kind: str) -> list[dict]:  # type: ignore[type-arg]
    priority = 0 if notice.urgent else (9 if kind == "reminder" else 5)
    return [
        {
            "notice_id": notice.id,
            "channel": t.channel,
            "target": t.target,
            "slot": key,
            "kind": kind,
            "state": "pending",
            "priority": priority,
            "due_at": now,
            "late": late,
            "created_at": now,
        }
        for t in targets
    ]


def _fire(
    session: Session,
    notice: Notice,
    key: str,
    when: dt.datetime,
    now: dt.datetime,
    grace: dt.timedelta,
    targets: list[Target],
    kind: str,
    report: SweepReport,
) -> None:
    label = f"{notice.id}@{key}"
    if now - when > grace:
        if _claim_slot(session, notice.id, key, "missed", now):
            report.missed.append(label)
            hours = (now - when).total_seconds() / 3600
            record(
                session,
                notice,
                ACTOR,
                "missed",
                notice.status,
                f"{key} 已错过 {hours:.1f} 小时，超过补发时限，未发送",
                now,
            )
        return
    late = now - when > LATE_AFTER
    if not _claim_slot(session, notice.id, key, "late" if late else "enqueued", now):
        return
    added = queue.enqueue(session, _rows(notice, targets, key, now, late=late, kind=kind), progress=report.progress)
    report.deliveries += added
    (report.late if late else report.enqueued).append(label)
    if kind == "notice" and notice.status != "sending":
        record(session, notice, ACTOR, "send", "sending", f"{key}{'（补发）' if late else ''}：{added} 条", now)


def sweep_notice(
    session: Session, notice: Notice, settings: PushSettings, now: dt.datetime, report: SweepReport
) -> None:
    grace = dt.timedelta(seconds=settings.misfire_grace_seconds)
    if notice.status == "approved":
        record(session, notice, ACTOR, "schedule", "scheduled", notice.schedule, now)
    slots = due_slots(notice, now, grace)
    if slots:
        targets = plan_targets(session, notice, settings).targets
        for when in slots:
            _fire(session, notice, slot_key(when), when, now, grace, targets, "notice", report)
    first = session.scalar(
        select(NoticeSlot.slot)
        .where(
            NoticeSlot.notice_id == notice.id,
            NoticeSlot.outcome.in_(("enqueued", "late")),
            ~NoticeSlot.slot.like("reminder%"),
        )
        .order_by(NoticeSlot.slot)
    )
    remind_at = reminder_time(notice, dt.datetime.fromisoformat(first.replace("Z", "+00:00"))) if first else None
    if remind_at is not None and remind_at <= now:
        key = f"reminder:{remind_at.astimezone(CHINA_TZ).date().isoformat()}"
        _fire(session, notice, key, remind_at, now, grace, reminder_targets(session, notice), "reminder", report)
    _maybe_done(session, notice, now, remind_at, report)


def _maybe_done(
    session: Session, notice: Notice, now: dt.datetime, remind_at: dt.datetime | None, report: SweepReport
) -> None:
    if notice.status != "sending" or next_slot(notice, now) is not None:
        return
    if remind_at is not None and remind_at > now:
        return
    unfinished = session.scalar(
        select(exists().where(Delivery.notice_id == notice.id, Delivery.state.not_in(sorted(FINAL_STATES))))
    )
    if not unfinished:
        record(session, notice, ACTOR, "done", "done", "", now)
        report.done.append(notice.id)


def sweep(session: Session, settings: PushSettings, now: dt.datetime, notice_id: str | None = None) -> SweepReport:
    """Enqueue every due slot of every approved notice (or of one); see the module docstring."""
    report = SweepReport()
    query = select(Notice).where(Notice.status.in_(ACTIVE), Notice.approved_by.is_not(None)).order_by(Notice.id)
    if notice_id is not None:
        query = query.where(Notice.id == notice_id)
    for notice in session.scalars(query):
        sweep_notice(session, notice, settings, now, report)
    return report


def send_now(
    session: Session,
    notice: Notice,
    settings: PushSettings,
    now: dt.datetime,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Enqueue an extra slot at ``now`` for an approved notice (``cunwu notice send-now``)."""
    report = SweepReport(progress=progress)
    targets = plan_targets(session, notice, settings).targets
    key = slot_key(now)
    grace = dt.timedelta(seconds=settings.misfire_grace_seconds)
    _fire(session, notice, key, now, now, grace, targets, "notice", report)
    return report.deliveries
