"""Deliveries through the CLI and the fake platform: exactly the intended groups, tags and outboxes; robot
errors; long notices in numbered parts; quotas refused before calling; 45065; receipts; uncertain rows."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from admin_cli.serve_cmd import event_handlers
from bot.dialogue import EventContext
from core.db import make_async_engine, make_async_sessionmaker
from push.channels.official import clientmsgid
from push.models import Delivery
from tests.conftest import Cunwu
from tests.push.conftest import FakeServer, groups_by_village, make_due, robot_key, sample_notice
from tests.push.platform_log import count_duplicates, job_events
from wechat.messages import parse_message
from wechat.xml import render_xml

ALL_VILLAGES = ("QH01", "QH02", "QH03", "QH04", "QH05")


def send(cunwu: Cunwu, notice_id: str, *, approve: bool = True) -> None:
    cunwu.ok("notice", "import", str(sample_notice(notice_id)), "--by", "李文书")
    if approve:
        cunwu.ok("notice", "approve", notice_id, "--by", "王审核")
    cunwu.ok("notice", "send-now", notice_id)
    cunwu.ok("worker", "--drain")


def show(cunwu: Cunwu, notice_id: str) -> dict:  # type: ignore[type-arg]
    return json.loads(cunwu.ok("notice", "show", notice_id, "--json").output)


def robot_messages(fake: FakeServer) -> list[dict]:  # type: ignore[type-arg]
    return [m for m in fake.platform.messages if m["api"] == "webhook_send"]


def test_samples_reach_exactly_the_intended_targets(township: Cunwu, fake: FakeServer, push_env: Path) -> None:
    send(township, "TZ-2026-028")  # all villages, every channel
    data = show(township, "TZ-2026-028")
    assert {d["state"] for d in data["deliveries"]} == {"sent"}
    keys = sorted(m["key"] for m in robot_messages(fake))
    assert keys == sorted(robot_key(c, g) for c, groups in groups_by_village().items() for g in groups)
    assert all(m["body"]["msgtype"] == "text" for m in robot_messages(fake))
    masses = [m for m in fake.platform.messages if m["api"] == "mass_sendall"]
    assert sorted(fake.platform.tags[m["body"]["filter"]["tag_id"]] for m in masses) == [
        f"{c}村民" for c in ALL_VILLAGES
    ]
    assert len({m["body"]["clientmsgid"] for m in masses}) == 5
    for code in ALL_VILLAGES:
        files = sorted(p.name for p in (push_env / code).iterdir())
        assert any("TZ-2026-028" in f and f.endswith(".txt") for f in files), files
        assert not any(f.startswith(".incoming") for f in files)  # the temporary folder is gone
    fake.platform.clear_messages()

    send(township, "TZ-2026-030")  # 社会救助公示 with names: only 新寨村村民群
    assert [m["key"] for m in robot_messages(fake)] == [robot_key("QH02", "新寨村村民群")]
    assert "张*华" in robot_messages(fake)[0]["body"]["text"]["content"]  # the village's own group sees the list
    fake.platform.clear_messages()

    send(township, "TZ-2026-035")  # one named group + the village loudspeaker
    assert [m["key"] for m in robot_messages(fake)] == [robot_key("QH02", "新寨村村民代表群")]
    assert [d["channel"] for d in show(township, "TZ-2026-035")["deliveries"]] == ["loudspeaker", "robot"]
    assert count_duplicates(fake.platform.messages)[0] == 0


def test_speaker_script_holds_only_what_the_announcer_reads(township: Cunwu, push_env: Path) -> None:
    send(township, "TZ-2026-029")  # 芒洪村 speaks Dai: its translation is missing
    script = next((push_env / "QH03").glob("*TZ-2026-029*.txt")).read_text(encoding="utf-8")
    assert "译文" not in script and ".txt" not in script and "请把" not in script
    notes = [d["note"] for d in show(township, "TZ-2026-029")["deliveries"] if d["target"] == "QH03"]
    assert any("傣语译文：未提供" in n for n in notes)  # the staff note is kept on the delivery


def test_robot_45009_is_retried_later_and_93000_names_the_group(township: Cunwu, fake: FakeServer) -> None:
    fake.call(lambda: fake.platform.inject(api="webhook_send", errcode=45009, count=1))
    send(township, "TZ-2026-035")
    robot = next(d for d in show(township, "TZ-2026-035")["deliveries"] if d["channel"] == "robot")
    assert robot["state"] == "pending" and "45009" in robot["error"] and robot["attempts"] == 1
    make_due(township.url)
    township.ok("worker", "--drain")
    robot = next(d for d in show(township, "TZ-2026-035")["deliveries"] if d["channel"] == "robot")
    assert robot["state"] == "sent" and robot["attempts"] == 2
    assert len(robot_messages(fake)) == 1

    fake.call(lambda: fake.platform.inject(api="webhook_send", errcode=93000, count=1))
    send(township, "TZ-2026-030")
    robot = show(township, "TZ-2026-030")["deliveries"][0]
    assert robot["state"] == "failed" and "93000" in robot["error"] and "新寨村村民群" in robot["error"]
    report = township.ok("report", "deliveries").output
    assert report.index("失败") < report.index("已发送") and "新寨村村民群" in report


def test_long_notice_arrives_in_numbered_text_parts(township: Cunwu, fake: FakeServer, tmp_path: Path) -> None:
    body = tmp_path / "body.md"
    paragraph = "为做好今冬明春森林防火工作，请各组护林员每日巡山，发现火情立即报告镇防火办，电话0883-6712119。"
    body.write_text("\n\n".join(f"{i}. {paragraph * 3}" for i in range(1, 16)), encoding="utf-8")
    township.ok(
        "notice",
        "create",
        "--id",
        "TZ-2026-070",
        "--kind",
        "政策宣传",
        "--title",
        "冬春森林防火工作要点",
        "--body",
        f"@{body}",
        "--villages",
        "QH05",
        "--groups",
        "大坪村护林员群",
        "--channels",
        "微信群",
        "--schedule",
        "2026-12-08T09:00:00+08:00",
        "--by",
        "李文书",
    )
    township.ok("notice", "approve", "TZ-2026-070", "--by", "王审核")
    township.ok("notice", "send-now", "TZ-2026-070")
    township.ok("worker", "--drain")
    parts = [m["body"]["text"]["content"] for m in robot_messages(fake)]
    assert len(parts) >= 3
    assert all(len(p.encode("utf-8")) <= 2048 for p in parts)
    assert [p.split("\n", 1)[0] for p in parts] == [f"（{i}/{len(parts)}）" for i in range(1, len(parts) + 1)]
    assert parts[-1].endswith("详情：http://cunwu.test/n/TZ-2026-070")


def test_subscription_account_quota_refused_before_calling(
    township: Cunwu, fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUNWU_WECHAT_ACCOUNT_TYPE", "subscription")
    send(township, "TZ-2026-028")
    masses = [d for d in show(township, "TZ-2026-028")["deliveries"] if d["channel"] == "oa_mass"]
    assert sorted(d["state"] for d in masses) == ["failed"] * 4 + ["sent"]
    refused = [d["error"] for d in masses if d["state"] == "failed"]
    assert all("每天只能成功群发 1 次" in e and "未调用微信接口" in e for e in refused)
    assert fake.platform.calls["mass_sendall"] == 1


def test_service_account_four_mass_sends_a_month(township: Cunwu, fake: FakeServer) -> None:
    township.ok("notice", "import", str(sample_notice("TZ-2026-032")), "--by", "李文书")
    township.ok("notice", "approve", "TZ-2026-032", "--by", "王审核")
    from core.db import make_engine
    from push.notices import get_notice
    from push.scheduler import send_now
    from push.settings import PushSettings

    engine = make_engine(township.url)
    now = dt.datetime.now(dt.UTC)
    for minute in range(5):  # five sends to the same tag (clientmsgid differs by slot)
        with Session(engine) as session, session.begin():
            send_now(session, get_notice(session, "TZ-2026-032"), PushSettings(), now - dt.timedelta(minutes=minute))
    engine.dispose()
    township.ok("worker", "--drain")
    masses = [d for d in show(township, "TZ-2026-032")["deliveries"] if d["channel"] == "oa_mass"]
    assert sorted(d["state"] for d in masses) == ["failed"] + ["sent"] * 4
    assert "每月最多收到 4 次群发" in next(d["error"] for d in masses if d["state"] == "failed")
    assert fake.platform.calls["mass_sendall"] == 4
    assert fake.platform.calls["tags_create"] == 1  # five sends at once create the village tag once


def test_mass_send_45065_is_recorded_not_resent(township: Cunwu, fake: FakeServer) -> None:
    township.ok("notice", "import", str(sample_notice("TZ-2026-032")), "--by", "李文书")
    township.ok("notice", "approve", "TZ-2026-032", "--by", "王审核")
    township.ok("notice", "send-now", "TZ-2026-032")
    data = show(township, "TZ-2026-032")
    slot = next(d["slot"] for d in data["deliveries"] if d["channel"] == "oa_mass")
    fake.call(lambda: fake.platform.clientmsgids.__setitem__(clientmsgid("TZ-2026-032", "QH01", 1, slot), (77, 78)))
    township.ok("worker", "--drain")
    mass = next(d for d in show(township, "TZ-2026-032")["deliveries"] if d["channel"] == "oa_mass")
    assert mass["state"] == "sent" and "45065" in mass["note"]
    assert not [m for m in fake.platform.messages if m["api"] == "mass_sendall"]


async def test_receipts_update_rows_through_the_handlers_the_bot_gets(township: Cunwu, fake: FakeServer) -> None:
    await asyncio.to_thread(send, township, "TZ-2026-032")
    events = job_events(fake.platform.messages)
    assert [e["Event"] for e in events] == ["MASSSENDJOBFINISH"]
    handlers = {name.lower(): h for name, h in event_handlers().items()}  # as `cunwu serve` gives them to the bot
    engine = make_async_engine(township.url)
    try:
        for event in events:
            message = parse_message(render_xml(event))
            ctx = EventContext(message, make_async_sessionmaker(engine), dt.datetime.now(dt.UTC))
            await handlers[message.event](ctx)
    finally:
        await engine.dispose()
    data = await asyncio.to_thread(show, township, "TZ-2026-032")
    mass = next(d for d in data["deliveries"] if d["channel"] == "oa_mass")
    assert mass["state"] == "sent" and mass["note"].startswith("群发完成：总数 0")


def test_worker_death_leaves_robots_uncertain_until_resolved(
    township: Cunwu, fake: FakeServer, session_factory: sessionmaker[Session]
) -> None:
    from push import queue

    township.ok("notice", "import", str(sample_notice("TZ-2026-035")), "--by", "李文书")
    township.ok("notice", "approve", "TZ-2026-035", "--by", "王审核")
    township.ok("notice", "send-now", "TZ-2026-035")
    engine = session_factory.kw["bind"]
    # claimed by a worker that then died: its lease (already past here) expires with the row in flight
    held = queue.claim(engine, "dead-worker", 10, dt.datetime.now(dt.UTC), lease_seconds=-60)
    assert {c.channel for c in held} == {"robot", "loudspeaker"}
    township.ok("worker", "--drain")
    states = {d["channel"]: d for d in show(township, "TZ-2026-035")["deliveries"]}
    assert states["robot"]["state"] == "uncertain" and "resolve" in states["robot"]["error"]
    assert states["loudspeaker"]["state"] == "sent"  # files are replaced atomically: safe to redo
    assert robot_messages(fake) == []
    report = township.ok("report", "deliveries").output
    assert "不确定" in report
    township.ok("notice", "resolve", "TZ-2026-035", "--resend", "--by", "王审核")
    township.ok("worker", "--drain")
    assert show(township, "TZ-2026-035")["deliveries"][1]["state"] == "sent"
    assert len(robot_messages(fake)) == 1
    with session_factory() as session:
        assert session.scalar(select(Delivery.note).where(Delivery.channel == "robot")) == "王审核 核实未送达，重新发送"
