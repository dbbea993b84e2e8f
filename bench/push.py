"""Push benchmark: worker processes on PostgreSQL against the fake platform (50 ms a call).

For each scenario and each number of worker processes it prints the end-to-end time, the achieved send rate
as a fraction of the configured rate R (from the fake platform's own timestamps), and the duplicates counted
from the fake platform's log.

- robot-rate: a few robots with many messages each: the achieved rate per robot against R = 20 a minute
  (the budget is held in the database and shared by the workers);
- robots: 1,000 robots, one message each (20 a minute each is not the limit then): end-to-end time;
- templates: N template messages (one per follower), R = CUNWU_PUSH_TEMPLATE_RATE a second: end-to-end time
  and the achieved steady rate (5th to 95th percentile of the send times).

Run: CUNWU_TEST_PG_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python bench/push.py
     [--templates 100000] [--template-rate 100] [--robots 1000] [--workers 1,4] [--only SCENARIO]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import insert, text  # noqa: E402

from core.db import make_engine  # noqa: E402
from core.schema import upgrade  # noqa: E402
from push.models import Delivery, Notice  # noqa: E402
from village_lists.models import GroupRobot  # noqa: E402

LATENCY_MS = 50
APPID, SECRET = "wx_fake_appid", "fake_app_secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(url: str, body: object | None = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as resp:
        return json.loads(resp.read())


def cunwu(url: str, *args: str, env: dict[str, str], **kwargs: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "admin_cli.main", "--db", url, *args],
        env={**os.environ, **env},
        cwd=REPO,
        **kwargs,  # type: ignore[arg-type]
    )


def fresh_database(admin: str) -> tuple[str, str]:
    name = f"cunwu_bench_{uuid.uuid4().hex[:8]}"
    engine = make_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return f"{admin.rpartition('/')[0]}/{name}", name


def drop_database(admin: str, name: str) -> None:
    engine = make_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def notice_row(notice_id: str, title: str, channels: list[str]) -> dict[str, object]:
    now = dt.datetime.now(dt.UTC)
    return {
        "id": notice_id, "kind": "政策宣传", "title": title, "body": "请按时缴费。咨询电话0883-6712066。",
        "items": [], "villages": ["QH01"], "groups": [], "channels": channels, "schedule": now.isoformat(),
        "send_at": now, "status": "sending", "author": "bench", "approved_by": "bench-reviewer", "approved_at": now,
        "generation": 1, "source_path": "", "created_at": now, "updated_at": now,
    }  # fmt: skip


def seed(url: str, scenario: str, n: int, robots: int, per_robot: int) -> int:
    engine = make_engine(url)
    upgrade(engine)
    subprocess.run(
        [sys.executable, "-m", "admin_cli.main", "--db", url, "load-sample"], cwd=REPO, check=True, capture_output=True
    )
    now = dt.datetime.now(dt.UTC)
    rows: list[dict[str, object]] = []
    with engine.begin() as conn:
        if scenario == "templates":
            conn.execute(insert(Notice), [notice_row("TZ-2026-900", "城乡居民医保缴费截止提醒", ["公众号"])])
            rows = [{"target": f"obench{i:07d}", "notice_id": "TZ-2026-900", "channel": "template"} for i in range(n)]
        else:
            conn.execute(
                insert(GroupRobot),
                [
                    {"village_code": "QH01", "group_name": f"压测群{i:04d}", "webhook_key": f"bench-key-{i:04d}"}
                    for i in range(robots)
                ],
            )
            notices = [
                notice_row(f"TZ-2026-{900 + m}", f"森林防火提醒（第{m + 1}次）", ["微信群"]) for m in range(per_robot)
            ]
            conn.execute(insert(Notice), notices)
            rows = [
                {"target": f"QH01/压测群{i:04d}", "notice_id": f"TZ-2026-{900 + m}", "channel": "robot"}
                for m in range(per_robot)
                for i in range(robots)
            ]
        for start in range(0, len(rows), 5000):
            common = {"slot": "bench", "kind": "notice", "state": "pending", "priority": 5, "due_at": now}
            chunk = [
                {**r, **common, "attempts": 0, "late": False, "created_at": now} for r in rows[start : start + 5000]
            ]
            conn.execute(insert(Delivery), chunk)
    engine.dispose()
    return len(rows)


def run(admin: str, scenario: str, workers: int, args: argparse.Namespace) -> dict[str, object]:
    url, name = fresh_database(admin)
    port = free_port()
    env = {
        "CUNWU_WECHAT_APPID": APPID, "CUNWU_WECHAT_SECRET": SECRET,
        "CUNWU_WECHAT_API_BASE": f"http://127.0.0.1:{port}", "CUNWU_WECOM_API_BASE": f"http://127.0.0.1:{port}",
        "CUNWU_WECHAT_TEMPLATE_ID": "tmpl-bench", "CUNWU_PUSH_TEMPLATE_RATE": str(args.template_rate),
        "CUNWU_PUSH_LEASE_SECONDS": "120",
    }  # fmt: skip
    fake = cunwu(url, "dev", "fake-wechat", "--port", str(port), "--latency-ms", str(LATENCY_MS), env=env,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        robots, per_robot = (args.rate_robots, args.robot_messages) if scenario == "robot-rate" else (args.robots, 1)
        total = seed(url, scenario, args.templates, robots, per_robot)
        for _ in range(100):
            try:
                http(f"http://127.0.0.1:{port}/_fake/stats")
                break
            except OSError:
                time.sleep(0.1)
        started = time.monotonic()
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        procs = [
            cunwu(url, "worker", "--drain", "--concurrency", str(args.concurrency), env=env, **quiet)
            for _ in range(workers)
        ]
        for p in procs:
            p.wait()
        elapsed = time.monotonic() - started
        api = "template_send" if scenario == "templates" else "webhook_send"
        messages = [m for m in http(f"http://127.0.0.1:{port}/_fake/messages?api={api}") if True]  # type: ignore[union-attr]
        duplicates = http(f"http://127.0.0.1:{port}/_fake/duplicates")["duplicates"]  # type: ignore[index]
        stamps = sorted(dt.datetime.fromisoformat(m["at"]).timestamp() for m in messages)
        if scenario == "templates":  # the steady rate: 5th to 95th percentile of the send times
            lo, hi = int(len(stamps) * 0.05), int(len(stamps) * 0.95) - 1
            span = stamps[hi] - stamps[lo] if hi > lo else 0.0
            rate = (hi - lo) / span if span else 0.0
            target = args.template_rate
        elif scenario == "robots":
            rate, target = 0.0, 1.0
        else:  # per robot: messages after the first over the time they took, against 20 a minute
            by_key: dict[str, list[float]] = {}
            for m in messages:
                by_key.setdefault(m["key"], []).append(dt.datetime.fromisoformat(m["at"]).timestamp())
            rates = [(len(v) - 1) / (max(v) - min(v)) for v in by_key.values() if len(v) > 1 and max(v) > min(v)]
            rate = sum(rates) / len(rates) if rates else 0.0
            target = 20 / 60
        return {
            "scenario": scenario, "workers": workers, "rows": total, "sent": len(messages),
            "seconds": round(elapsed, 1), "duplicates": duplicates,
            "achieved_over_R": round(rate / target, 3) if scenario != "robots" else None,
        }  # fmt: skip
    finally:
        fake.terminate()
        fake.wait()
        drop_database(admin, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--templates", type=int, default=100_000)
    parser.add_argument("--template-rate", type=float, default=150.0, help="R for template messages, a second")
    parser.add_argument("--robots", type=int, default=1000)
    parser.add_argument("--rate-robots", type=int, default=20, help="robots in the robot-rate scenario")
    parser.add_argument("--robot-messages", type=int, default=10, help="messages per robot there (20 a minute each)")
    parser.add_argument("--workers", default="1,4")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--only", choices=["robot-rate", "robots", "templates"])
    args = parser.parse_args()
    admin = os.environ.get("CUNWU_TEST_PG_URL")
    if not admin:
        sys.exit("set CUNWU_TEST_PG_URL=postgresql://postgres@127.0.0.1:5432/test (the bench runs on PostgreSQL)")
    print(f"fake platform latency {LATENCY_MS} ms a call; template R = {args.template_rate}/s; robot R = 20/min each")
    for scenario in ("robot-rate", "robots", "templates"):
        if args.only and scenario != args.only:
            continue
        for workers in (int(w) for w in args.workers.split(",")):
            print(json.dumps(run(admin, scenario, workers, args), ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
