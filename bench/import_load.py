"""Villagers keep being answered while a large catalog import runs on the same SQLite file.

    .venv/bin/python bench/import_load.py [--rows 100000] [--rate 20] [--duration 60]

Starts ``cunwu serve`` on a fresh SQLite file with the sample township, sends ``--rate`` questions a
second through the WeChat simulator (safe mode) for ``--duration`` seconds, and after 5 seconds runs
``cunwu catalog import`` of a ``--rows``-row catalog (the sample's rows, repeated with new codes) on
the same file. Meanwhile it polls ``/healthz`` and probes SQLite's write lock every 20 ms (the longest
stretch it was held elsewhere). Prints the answers (real ones, apologies, late ``success``), their
p50/p99 latency, the health answers, the import's time and the longest lock hold.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TOKEN, APPID = "loadtoken", "wxload000000001"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APOLOGY = "抱歉，系统暂时出了点问题"


def big_catalog(path: Path, rows: int) -> None:
    with (ROOT / "examples" / "qinghe" / "township_catalog.csv").open(encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader)
        base = list(reader)
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow([*header, "乡镇"])
        used: dict[tuple[int, str], int] = {}  # (township, 领域号) → sequence numbers taken
        for n in range(rows):  # a 领域号 has 999 codes a township: the rows spread over several
            row = list(base[n % len(base)])
            domain, town = row[0].split("-")[0], 0
            while used.get((town, domain), 0) >= 999:
                town += 1
            seq = used[(town, domain)] = used.get((town, domain), 0) + 1
            row[0], row[3] = f"{domain}-{seq:03d}", f"{row[3]}（{n}）"
            out.writerow([*row, f"合成{town:02d}镇"])


def lock_probe(path: Path, stop: list[bool], longest: list[float]) -> None:
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)
    held_since: float | None = None
    while not stop[0]:
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            held_since = None
        except sqlite3.OperationalError:
            now = time.monotonic()
            held_since = held_since or now
            longest[0] = max(longest[0], now - held_since)
        time.sleep(0.02)
    conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--duration", type=float, default=60.0)
    args = parser.parse_args()

    import aiohttp

    from wechat.crypto import Crypto
    from wechat.testing import WeChatSim

    tmp = Path(tempfile.mkdtemp())
    db = tmp / "load.db"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "CUNWU_DATABASE_URL": f"sqlite:///{db}",
        "CUNWU_WECHAT_TOKEN": TOKEN,
        "CUNWU_WECHAT_AES_KEY": AES_KEY,
        "CUNWU_WECHAT_APPID": APPID,
        "CUNWU_WECHAT_API_BASE": "http://127.0.0.1:9",  # no real WeChat API: a development server
        "CUNWU_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PYTHONWARNINGS": "ignore",
    }
    cunwu = [sys.executable, "-m", "admin_cli.main"]
    subprocess.run([*cunwu, "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
    subprocess.run([*cunwu, "load-sample"], env=env, cwd=ROOT, check=True, capture_output=True)
    big = tmp / "catalog.csv"
    big_catalog(big, args.rows)
    questions = [json.loads(line)["q"] for line in (ROOT / "examples/qinghe/sample_questions.jsonl").open()]
    server_log = tmp / "serve.log"
    server = subprocess.Popen(
        [*cunwu, "serve", "--port", str(port)], env=env, cwd=ROOT, stderr=server_log.open("w", encoding="utf-8")
    )
    latencies: list[float] = []
    outcomes = {"answer": 0, "apology": 0, "success": 0, "error": 0}
    health: dict[int, int] = {}
    stop, longest = [False], [0.0]
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(600):
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    if server.poll() is not None:
                        log = server_log.read_text(encoding="utf-8")
                        raise SystemExit(f"cunwu serve exited ({server.returncode}):\n{log}") from None
                await asyncio.sleep(0.5)
            sim = WeChatSim(session, Crypto(TOKEN, AES_KEY, APPID), TOKEN, url=f"http://127.0.0.1:{port}/wechat")
            loop = asyncio.get_running_loop()
            probe = loop.run_in_executor(None, lock_probe, db, stop, longest)

            async def ask(n: int) -> None:
                started = time.perf_counter()
                try:
                    reply = await sim.text(f"oLoad{n % 300:05d}", questions[n % len(questions)])
                except Exception:
                    outcomes["error"] += 1
                    return
                latencies.append(time.perf_counter() - started)
                if reply.content is None:
                    outcomes["success"] += 1
                else:
                    outcomes["apology" if APOLOGY in reply.content else "answer"] += 1

            async def poll_health() -> None:
                while not stop[0]:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as r:
                        health[r.status] = health.get(r.status, 0) + 1
                    await asyncio.sleep(0.5)

            async def run_import() -> float:
                await asyncio.sleep(5)
                started = time.perf_counter()
                proc = await asyncio.create_subprocess_exec(
                    *cunwu, "catalog", "import", str(big), env=env, cwd=ROOT,
                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
                )  # fmt: skip
                _, err = await proc.communicate()
                if proc.returncode != 0:
                    print("import failed:", err.decode()[-500:])
                return time.perf_counter() - started

            health_task = asyncio.create_task(poll_health())
            import_task = asyncio.create_task(run_import())
            tasks = []
            began = time.perf_counter()
            n = 0
            while time.perf_counter() - began < args.duration:
                tasks.append(asyncio.create_task(ask(n)))
                n += 1
                await asyncio.sleep(max(0.0, began + n / args.rate - time.perf_counter()))
            await asyncio.gather(*tasks)
            import_seconds = await import_task
            stop[0] = True
            await health_task
            await probe
    finally:
        stop[0] = True
        server.terminate()
        server.wait(30)
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    print(f"{n} questions at {args.rate:.0f}/s over {args.duration:.0f} s; catalog import of {args.rows} rows")
    print(f"replies: {outcomes}; p50 {p(0.5):.0f} ms, p99 {p(0.99):.0f} ms, max {latencies[-1] * 1000:.0f} ms")
    print(
        f"/healthz: {health}; import took {import_seconds:.1f} s; write lock held elsewhere at most {longest[0]:.1f} s"
    )


if __name__ == "__main__":
    asyncio.run(main())
