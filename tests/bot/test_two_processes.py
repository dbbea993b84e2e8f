"""Two real ``cunwu serve`` processes on one PostgreSQL database, and a fake WeChat platform process.

They must share one access token (the platform counts one fetch per expiry) and answer a message
that WeChat retried at both of them exactly once. The reply budget is set to zero so every answer
goes out through the customer-service API, where the fake platform records it.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from core.db import make_engine
from core.schema import upgrade
from tests.bot.conftest import ACCOUNT, AES_KEY, APPID, SECRET, TOKEN
from tests.conftest import pg_admin_url
from wechat.crypto import Crypto
from wechat.testing import build_signed_post, build_text_xml

pytestmark = pytest.mark.pg

CUNWU = [sys.executable, "-m", "admin_cli.main"]
REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Process:
    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log = log_dir / f"{name}.log"
        self._file = self.log.open("wb")
        self.proc = subprocess.Popen(args, env=env, cwd=REPO, stdout=self._file, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._file.close()


async def wait_ready(url: str, proc: Process) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc.proc.poll() is not None:
                raise AssertionError(f"{proc.name} exited ({proc.proc.returncode}):\n{proc.output()}")
            try:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as resp:
                    if resp.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"{proc.name} did not start in time:\n{proc.output()}")


@pytest.fixture
def pg_migrated(pg_url: str) -> str:
    engine = make_engine(pg_url)
    upgrade(engine)
    engine.dispose()
    return pg_url


@pytest.fixture
def cluster(pg_migrated: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    if not pg_admin_url():
        pytest.skip("needs CUNWU_TEST_PG_URL")
    fake_port, a_port, b_port = free_port(), free_port(), free_port()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("CUNWU_") or k == "CUNWU_TEST_PG_URL"}
    env = {
        **base_env,
        "CUNWU_WECHAT_APPID": APPID,
        "CUNWU_WECHAT_SECRET": SECRET,
        "CUNWU_WECHAT_TOKEN": TOKEN,
        "CUNWU_WECHAT_AES_KEY": AES_KEY,
        "CUNWU_WECHAT_API_BASE": f"http://127.0.0.1:{fake_port}",
        "CUNWU_REPLY_BUDGET_SECONDS": "0",
        "CUNWU_PUBLIC_URL": "http://cunwu.test",
        "PYTHONWARNINGS": "ignore",
    }
    procs: list[Process] = []
    try:
        procs.append(Process("fake", [*CUNWU, "dev", "fake-wechat", "--port", str(fake_port)], env, tmp_path))
        for name, port in (("a", a_port), ("b", b_port)):
            args = [*CUNWU, "--db", pg_migrated, "serve", "--host", "127.0.0.1", "--port", str(port)]
            procs.append(Process(name, args, env, tmp_path))
        yield {
            "fake": f"http://127.0.0.1:{fake_port}",
            "a": f"http://127.0.0.1:{a_port}",
            "b": f"http://127.0.0.1:{b_port}",
            "procs": procs,
        }
    finally:
        for proc in procs:
            proc.stop()


async def test_two_serve_processes_share_the_token_and_answer_a_retry_once(cluster: dict[str, Any]) -> None:
    fake, a, b = cluster["fake"], cluster["a"], cluster["b"]
    fake_proc, a_proc, b_proc = cluster["procs"]
    await wait_ready(f"{fake}/_fake/stats", fake_proc)
    await asyncio.gather(wait_ready(f"{a}/healthz", a_proc), wait_ready(f"{b}/healthz", b_proc))
    crypto = Crypto(TOKEN, AES_KEY, APPID)

    async with aiohttp.ClientSession() as http:

        async def post(base: str, openid: str, text: str, msg_id: int) -> tuple[int, str]:
            xml = build_text_xml(ACCOUNT, openid, text, msg_id=msg_id)
            params, body = build_signed_post(TOKEN, xml, openid=openid, crypto=crypto, to_user=ACCOUNT)
            async with http.post(f"{base}/wechat", params=params, data=body.encode()) as resp:
                return resp.status, await resp.text()

        async def sent(touser: str | None = None) -> list[dict[str, Any]]:
            params = {"api": "custom_send", **({"touser": touser} if touser else {})}
            async with http.get(f"{fake}/_fake/messages", params=params) as resp:
                data: list[dict[str, Any]] = await resp.json()
                return data

        async def stats() -> dict[str, Any]:
            async with http.get(f"{fake}/_fake/stats") as resp:
                data: dict[str, Any] = await resp.json()
                return data

        async def wait_sent(count: int) -> None:
            deadline = time.monotonic() + 20
            while len(await sent()) < count:
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"{len(await sent())} of {count} messages sent\nA:\n{a_proc.output()}\nB:\n{b_proc.output()}"
                    )
                await asyncio.sleep(0.1)

        # one message to each process: one token fetch between them
        assert await post(a, "oUserA000001", "帮助", 1) == (200, "success")
        await wait_sent(1)
        assert await post(b, "oUserB000001", "帮助", 2) == (200, "success")
        await wait_sent(2)
        assert (await stats())["token_fetches"] == 1

        # WeChat retries one message at both processes at once (and then again): answered once
        results = await asyncio.gather(*(post(base, "oUserC000001", "帮助", 3) for base in (a, b, a, b, b, a)))
        assert all(status == 200 for status, _ in results)
        await wait_sent(3)
        await asyncio.sleep(1.0)  # a second answer would have arrived by now
        assert len(await sent("oUserC000001")) == 1

        # the token expires: both processes hit 42001 at the same time; one refresh between them
        async with http.post(f"{fake}/_fake/faults", json={"expire_tokens": True}) as resp:
            assert resp.status == 200
        await asyncio.gather(post(a, "oUserD000001", "帮助", 4), post(b, "oUserE000001", "帮助", 5))
        await wait_sent(5)
        assert (await stats())["token_fetches"] == 2
        assert len(await sent("oUserD000001")) == 1 and len(await sent("oUserE000001")) == 1
