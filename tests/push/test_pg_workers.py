"""Several worker and scheduler processes on a real PostgreSQL, against the fake platform.

- 4 worker processes share 10,000 deliveries: each is sent exactly once, per the fake platform's log.
- A worker killed with SIGKILL mid-run: the others finish; no robot or mass-send row is sent twice; every row
  ends sent, failed (with its reason) or uncertain.
- Two scheduler processes at once enqueue each delivery once.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from core.clock import CHINA_TZ
from core.db import make_engine
from push.models import Delivery, Notice
from tests.conftest import Cunwu
from tests.push.conftest import FakeServer, sample_notice
from tests.push.platform_log import count_duplicates
from village_lists.models import Follower

pytestmark = pytest.mark.pg
SCALE = int(os.environ.get("CUNWU_TEST_PG_DELIVERIES", "10000"))


@pytest.fixture
def db_url(pg_url: str) -> str:  # these tests run on PostgreSQL only
    return pg_url


def cunwu_process(url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "admin_cli.main", "--db", url, *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def add_followers(url: str, village: str, n: int) -> None:
    engine = make_engine(url)
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(Follower),
            [
                {
                    "openid": f"o{village}x{i:06d}",
                    "village_code": village,
                    "active": True,
                    "bound_at": now,
                    "updated_at": now,
                }
                for i in range(n)
            ],
        )
    engine.dispose()


def states(url: str) -> Counter[str]:
    engine = make_engine(url)
    with Session(engine) as session:
        rows = session.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).all()
    engine.dispose()
    return Counter({s: n for s, n in rows})


def approved_template_fan_out(township: Cunwu, monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    monkeypatch.setenv("CUNWU_WECHAT_TEMPLATE_ID", "tmpl-notice")
    monkeypatch.setenv("CUNWU_PUSH_TEMPLATE_RATE", "100000")
    add_followers(township.url, "QH01", n)
    township.ok("notice", "import", str(sample_notice("TZ-2026-032")), "--by", "李文书")
    township.ok("notice", "approve", "TZ-2026-032", "--by", "王审核")
    township.ok("notice", "send-now", "TZ-2026-032")


def test_four_workers_send_each_delivery_exactly_once(
    township: Cunwu, fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    approved_template_fan_out(township, monkeypatch, SCALE - 1)  # + the village group's robot = SCALE rows
    assert states(township.url) == Counter({"pending": SCALE})
    workers = [cunwu_process(township.url, "worker", "--drain", "--concurrency", "25") for _ in range(4)]
    outputs = [w.communicate(timeout=600)[0].decode() for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs
    handled = [int(o.split("处理了 ")[1].split(" ")[0]) for o in outputs]
    assert sum(handled) == SCALE and all(h > 0 for h in handled)  # every process took a share
    assert states(township.url) == Counter({"sent": SCALE})
    sent = [m for m in fake.platform.messages if m["api"] in ("template_send", "webhook_send")]
    assert len(sent) == SCALE
    assert count_duplicates(fake.platform.messages) == (0, [])
    assert len({m["body"]["touser"] for m in sent if m["api"] == "template_send"}) == SCALE - 1


def test_a_worker_killed_mid_run(township: Cunwu, fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUNWU_PUSH_LEASE_SECONDS", "3")
    monkeypatch.setenv("CUNWU_PUSH_ROBOT_RATE_PER_MINUTE", "60000")
    monkeypatch.setenv("CUNWU_PUSH_MASS_RATE_PER_MINUTE", "60000")
    fake.call(lambda: setattr(fake.platform.config, "robot_rate_per_minute", 10**6))
    fake.call(lambda: setattr(fake.platform.config, "latency_ms", 20))
    approved_template_fan_out(township, monkeypatch, 1500)
    # many robot and mass-send rows too: 30 copies of the sample notice to every group and tag
    township.ok("notice", "import", str(sample_notice("TZ-2026-028")), "--by", "李文书")
    engine = make_engine(township.url)
    from push.scheduler import send_now
    from push.settings import PushSettings

    now = dt.datetime.now(dt.UTC)
    with Session(engine) as session, session.begin():
        original = session.get(Notice, "TZ-2026-028")
        assert original is not None
        columns = {c.key: getattr(original, c.key) for c in Notice.__table__.columns}
        for i in range(30):
            copy = Notice(**{**columns, "id": f"TZ-2026-{200 + i}", "title": f"{original.title}（第{i + 1}批）"})
            copy.channels = ["公众号", "微信群"]  # the queue is under test here, not speech synthesis
            copy.status, copy.approved_by, copy.approved_at = "approved", "王审核", now
            session.add(copy)
            session.flush()
            send_now(session, copy, PushSettings(), now)
    engine.dispose()
    total = sum(states(township.url).values())
    workers = [cunwu_process(township.url, "worker", "--drain", "--concurrency", "20") for _ in range(3)]
    deadline = time.monotonic() + 60
    while len(fake.platform.messages) < 300 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers[0].send_signal(signal.SIGKILL)
    workers[0].communicate()  # reap it and close its pipe
    for w in workers[1:]:
        out = w.communicate(timeout=600)[0].decode()
        assert w.returncode == 0, out
    final = states(township.url)
    assert sum(final.values()) == total and set(final) <= {"sent", "failed", "uncertain"}, final
    engine = make_engine(township.url)
    with Session(engine) as session:
        failed = session.scalars(select(Delivery.error).where(Delivery.state == "failed")).all()
        uncertain = session.scalars(select(Delivery.channel).where(Delivery.state == "uncertain")).all()
    engine.dispose()
    assert all(failed) and set(uncertain) <= {"robot", "template"}
    assert uncertain or any("工作进程中断" in e for e in failed)  # the killed worker held rows in flight
    assert any("每月最多收到 4 次群发" in e for e in failed)  # 30 slots to each tag: the quota holds
    assert count_duplicates(fake.platform.messages) == (0, [])
    masses = [m["body"]["clientmsgid"] for m in fake.platform.messages if m["api"] == "mass_sendall"]
    assert len(masses) == len(set(masses)) == 5 * 4


def test_two_schedulers_at_once(township: Cunwu, fake: FakeServer) -> None:
    when = (dt.datetime.now(CHINA_TZ) + dt.timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    for i in range(20):
        township.ok(
            "notice",
            "create",
            "--id",
            f"TZ-2026-{100 + i}",
            "--kind",
            "会议通知",
            "--title",
            f"会议通知{i}",
            "--body",
            "请各组组长参加。联系电话0883-6712048。",
            "--villages",
            "all",
            "--channels",
            "微信群",
            "--schedule",
            when.isoformat(),
            "--by",
            "李文书",
        )
        township.ok("notice", "approve", f"TZ-2026-{100 + i}", "--by", "王审核")
    at = (when + dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    for _ in range(3):  # several rounds of two schedulers racing on the same slots
        runs = [cunwu_process(township.url, "scheduler", "--once", "--at", at) for _ in range(2)]
        outs = [r.communicate(timeout=120)[0].decode() for r in runs]
        assert all(r.returncode == 0 for r in runs), outs
    assert states(township.url) == Counter({"pending": 20 * 17})
    engine = make_engine(township.url)
    with Session(engine) as session:
        keys = session.execute(select(Delivery.notice_id, Delivery.target, Delivery.slot)).all()
    engine.dispose()
    assert len(keys) == len(set(keys)) == 340
