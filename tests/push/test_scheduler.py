"""Scheduling: cron slots inside valid_from/valid_until, misfire grace (补发 or missed), publicity reminders,
the APScheduler timer rebuilt from the table, and a timer firing twice sending nothing twice."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy.orm import Session, sessionmaker

from core.clock import CHINA_TZ
from push.models import Notice
from push.scheduler import cron_trigger, publicity_end, reminder_time, sweep
from push.settings import PushSettings
from push.timer import Timer
from tests.conftest import Cunwu
from tests.push.conftest import FakeServer, make_due

TOMORROW = (dt.datetime.now(CHINA_TZ) + dt.timedelta(days=1)).date()


def at(day: dt.date, hhmm: str) -> str:
    return f"{day.isoformat()}T{hhmm}"


def scheduler_once(cunwu: Cunwu, when: str) -> str:
    return cunwu.ok("scheduler", "--once", "--at", when).output


def deliveries(cunwu: Cunwu, notice_id: str) -> list[dict]:  # type: ignore[type-arg]
    return json.loads(cunwu.ok("notice", "show", notice_id, "--json").output)["deliveries"]


def drain_now(cunwu: Cunwu) -> None:
    """The worker runs on the real clock: rows the rehearsed (``--at``) scheduler enqueued are due now."""
    make_due(cunwu.url)
    cunwu.ok("worker", "--drain")


def create(cunwu: Cunwu, notice_id: str, schedule: str, *extra: str) -> None:
    cunwu.ok(
        "notice",
        "create",
        "--id",
        notice_id,
        "--kind",
        "政策宣传",
        "--title",
        "森林防火提醒",
        "--body",
        "请不要野外用火。发现山火请拨打12119或0883-6712119。",
        "--villages",
        "QH01",
        "--groups",
        "清河村村民群",
        "--channels",
        "微信群",
        "--schedule",
        schedule,
        "--by",
        "李文书",
        *extra,
    )
    cunwu.ok("notice", "approve", notice_id, "--by", "王审核")


def test_cron_notice_fires_at_its_slots_and_stops_after_valid_until(township: Cunwu, fake: FakeServer) -> None:
    last = TOMORROW + dt.timedelta(days=2)
    create(
        township, "TZ-2026-060", "0 19 * * *", "--valid-from", TOMORROW.isoformat(), "--valid-until", last.isoformat()
    )
    assert "新增投递 0 条" in scheduler_once(township, at(TOMORROW, "18:59"))
    for day in range(3):
        when = TOMORROW + dt.timedelta(days=day)
        out = scheduler_once(township, at(when, "19:00"))
        assert "新增投递 1 条" in out
        assert "新增投递 0 条" in scheduler_once(township, at(when, "19:01"))  # firing twice sends nothing twice
    assert "新增投递 0 条" in scheduler_once(township, at(last + dt.timedelta(days=1), "19:00"))
    assert "新增投递 0 条" in scheduler_once(township, at(last + dt.timedelta(days=30), "19:00"))
    rows = deliveries(township, "TZ-2026-060")
    assert len(rows) == 3 and len({r["slot"] for r in rows}) == 3
    drain_now(township)
    assert len([m for m in fake.platform.messages if m["api"] == "webhook_send"]) == 3


def test_restart_inside_the_grace_sends_late_once(township: Cunwu, fake: FakeServer) -> None:
    create(township, "TZ-2026-061", f"{TOMORROW.isoformat()}T09:00:00+08:00")
    out = scheduler_once(township, at(TOMORROW, "14:30"))  # down from 09:00 to 14:30: 5.5 h < 6 h
    assert "补发：TZ-2026-061" in out
    assert "补发" not in scheduler_once(township, at(TOMORROW, "14:31"))
    drain_now(township)
    texts = [m["body"]["text"]["content"] for m in fake.platform.messages if m["api"] == "webhook_send"]
    assert len(texts) == 1 and texts[0].startswith("【补发】")
    assert deliveries(township, "TZ-2026-061")[0]["late"] is True
    scheduler_once(township, at(TOMORROW, "14:40"))  # every delivery final, no slot left: done
    history = township.ok("notice", "show", "TZ-2026-061").output
    assert "状态：done" in history
    for step in ("draft→approved", "approved→scheduled", "scheduled→sending", "sending→done"):
        assert step in history


def test_restart_outside_the_grace_records_a_miss(township: Cunwu, fake: FakeServer) -> None:
    create(township, "TZ-2026-062", f"{TOMORROW.isoformat()}T09:00:00+08:00")
    out = scheduler_once(township, at(TOMORROW, "15:30"))  # 6.5 h late
    assert "已错过（超过补发时限，未发送）：TZ-2026-062" in out
    assert deliveries(township, "TZ-2026-062") == []
    assert "已错过" in township.ok("report", "deliveries").output
    assert "missed" in township.ok("notice", "show", "TZ-2026-062").output
    drain_now(township)
    assert fake.platform.messages == []


def test_grace_is_configurable(township: Cunwu, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CUNWU_PUSH_MISFIRE_GRACE_HOURS", "1")
    create(township, "TZ-2026-063", f"{TOMORROW.isoformat()}T09:00:00+08:00")
    assert "已错过" in scheduler_once(township, at(TOMORROW, "10:30"))


def test_publicity_reminder_after_working_days(
    township: Cunwu, fake: FakeServer, session_factory: sessionmaker[Session]
) -> None:
    create(township, "TZ-2026-064", f"{TOMORROW.isoformat()}T09:00:00+08:00", "--publicity-days", "5")
    scheduler_once(township, at(TOMORROW, "09:00"))
    with session_factory() as session:
        notice = session.get(Notice, "TZ-2026-064")
        assert notice is not None
        first = dt.datetime.combine(TOMORROW, dt.time(9), tzinfo=CHINA_TZ)
        remind = reminder_time(notice, first)
    assert remind is not None and remind.date() > publicity_end(TOMORROW, 5) >= TOMORROW + dt.timedelta(days=4)
    assert "新增投递 0 条" in scheduler_once(township, remind.strftime("%Y-%m-%dT08:59"))
    assert "新增投递 1 条" in scheduler_once(township, remind.strftime("%Y-%m-%dT09:00"))
    drain_now(township)
    texts = [m["body"]["text"]["content"] for m in fake.platform.messages if m["api"] == "webhook_send"]
    assert any("公示期满，请将结果报镇社会事务办" in t for t in texts)
    reminder = next(d for d in deliveries(township, "TZ-2026-064") if d["kind"] == "reminder")
    assert reminder["target"] == "QH01/清河村村民代表群"


def test_publicity_end_counts_working_days() -> None:
    # 2026-11-25 is a Wednesday: 7 working days run to Thursday 2026-12-03 (the weekend is not counted)
    assert publicity_end(dt.date(2026, 11, 25), 7) == dt.date(2026, 12, 3)
    assert publicity_end(dt.date(2026, 11, 28), 1) == dt.date(2026, 11, 30)  # a Saturday start counts from Monday


def test_cron_day_of_week_is_crontab_s() -> None:
    sunday = cron_trigger("0 9 * * 0").get_next_fire_time(None, dt.datetime(2026, 12, 7, tzinfo=CHINA_TZ))
    assert sunday is not None and sunday.weekday() == 6
    weekdays = cron_trigger("30 7 * * 1-5").get_next_fire_time(None, dt.datetime(2026, 12, 12, tzinfo=CHINA_TZ))
    assert weekdays is not None and weekdays.date() == dt.date(2026, 12, 14)


async def test_timer_is_rebuilt_from_the_table(township: Cunwu, session_factory: sessionmaker[Session]) -> None:
    import asyncio

    await asyncio.to_thread(create, township, "TZ-2026-065", f"{TOMORROW.isoformat()}T09:00:00+08:00")
    engine = session_factory.kw["bind"]
    timer = Timer(engine, PushSettings())
    try:
        await timer.start()
        jobs = {j.id: j for j in timer.scheduler.get_jobs()}  # type: ignore[union-attr]
        assert "notice:TZ-2026-065" in jobs and "sweep" in jobs
        assert jobs["notice:TZ-2026-065"].next_run_time == dt.datetime.combine(TOMORROW, dt.time(9), tzinfo=CHINA_TZ)
        await asyncio.to_thread(township.ok, "notice", "cancel", "TZ-2026-065", "--by", "王审核")
        await timer.rebuild_if_changed()
        assert "notice:TZ-2026-065" not in {j.id for j in timer.scheduler.get_jobs()}  # type: ignore[union-attr]
    finally:
        await timer.stop()


def test_two_sweeps_of_one_slot_enqueue_once(township: Cunwu, session_factory: sessionmaker[Session]) -> None:
    create(township, "TZ-2026-066", f"{TOMORROW.isoformat()}T09:00:00+08:00")
    when = dt.datetime.combine(TOMORROW, dt.time(9, 0, 5), tzinfo=CHINA_TZ)
    first, second = session_factory(), session_factory()
    try:
        with first.begin():
            a = sweep(first, PushSettings(), when)
        with second.begin():
            b = sweep(second, PushSettings(), when)
    finally:
        first.close()
        second.close()
    assert (a.deliveries, b.deliveries) == (1, 0)
