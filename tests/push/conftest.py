"""Push fixtures: the fake platform served on a real port (from a thread), and a sample township whose groups,
tags and outboxes are configured, driven through the ``cunwu`` CLI as staff would."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from tests.conftest import SAMPLE, Cunwu
from wechat.fake_platform import FakeConfig, FakePlatform

APPID = "wx_fake_appid"
SECRET = "fake_app_secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class FakeServer:
    platform: FakePlatform
    url: str
    loop: asyncio.AbstractEventLoop

    def call(self, fn, *args):  # type: ignore[no-untyped-def]
        """Run ``fn(*args)`` on the server's loop (the platform's state belongs to it)."""
        return asyncio.run_coroutine_threadsafe(_call(fn, *args), self.loop).result(10)


async def _call(fn, *args):  # type: ignore[no-untyped-def]
    return fn(*args)


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    platform = FakePlatform(FakeConfig(appid=APPID, secret=SECRET))
    port = free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    runner = web.AppRunner(platform.make_app())

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    yield FakeServer(platform, f"http://127.0.0.1:{port}", loop)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def robot_key(code: str, group: str) -> str:
    return f"dev-{code}-{abs(hash(group)) % 10**8:08d}"


def groups_by_village() -> dict[str, list[str]]:
    with (SAMPLE / "villages.csv").open(encoding="utf-8", newline="") as f:
        return {row["村编码"]: row["微信群"].split("；") for row in csv.DictReader(f)}


@pytest.fixture
def push_env(monkeypatch: pytest.MonkeyPatch, fake: FakeServer, tmp_path: Path) -> Path:
    """Settings for push through the environment, as ``make run`` sets them; returns the outbox root."""
    monkeypatch.setenv("CUNWU_WECHAT_APPID", APPID)
    monkeypatch.setenv("CUNWU_WECHAT_SECRET", SECRET)
    monkeypatch.setenv("CUNWU_WECHAT_API_BASE", fake.url)
    monkeypatch.setenv("CUNWU_WECOM_API_BASE", fake.url)
    monkeypatch.setenv("CUNWU_PUBLIC_URL", "http://cunwu.test")
    monkeypatch.setenv("CUNWU_BROADCAST_DIR", str(tmp_path / "broadcast"))
    monkeypatch.chdir(tmp_path)  # no stray .env
    return tmp_path / "outbox"


@pytest.fixture
def township(cunwu: Cunwu, push_env: Path) -> Cunwu:
    """The sample township, every group with a robot key, a tag and an outbox per village."""
    cunwu.ok("load-sample")
    for code, groups in groups_by_village().items():
        robots = [f"--robot={g}={robot_key(code, g)}" for g in groups]
        cunwu.ok("village", "channels", code, "--oa-tag", f"{code}村民", "--outbox", str(push_env / code), *robots)
    return cunwu


def sample_notice(notice_id: str) -> Path:
    return SAMPLE / "notices" / f"{notice_id}.yaml"


def make_due(url: str) -> None:
    """Time passes: every pending row (a retry waiting for its backoff, a rehearsed slot) is due now."""
    from sqlalchemy import update
    from sqlalchemy.orm import Session

    from core.db import make_engine
    from push.models import Delivery

    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        session.execute(update(Delivery).where(Delivery.state == "pending").values(due_at=dt.datetime.now(dt.UTC)))
    engine.dispose()
