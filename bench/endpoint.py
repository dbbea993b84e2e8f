"""Throughput and latency of POST /wechat: the full path against a bare aiohttp handler.

    .venv/bin/python bench/endpoint.py [--items 10000] [--concurrency 16] [--duration 10]
                                       [--db sqlite|postgresql://…] [--matcher real|thread|stub] [--no-warm]

Full path: a signed, AES-encrypted text message → signature → decrypt → parse → dedupe claim in the
database → follower lookup → matcher over ``--items`` catalog items (the sample township plus
synthetic items) → encrypted reply, with the answer stored and the question logged.
Bare: an aiohttp handler that only parses the (same) posted XML and echoes a fixed reply.

Each server runs in its own process (one event loop, as ``cunwu serve`` does: uvloop, unless
``--loop asyncio``; both servers on the same kind of loop); the client runs in this process
(asyncio) with ``--concurrency`` concurrent connections, sending distinct MsgIds. Prints
requests/s, p50 and p99 latency, and the throughput ratio to the bare handler, for:

- ``full, <mix>, cache N``: the question mix ``--mix`` with the answer cache on. ``zipf`` (the
  default) draws questions from the sample and development sets with Zipf-like popularity
  (the question of rank r, in a fixed shuffled order, with probability ∝ 1/r^s, ``--zipf-s``):
  villagers repeat the popular questions; the rare ones still miss the cache. ``cycle`` sends them
  in turn (every question equally often).
- ``full, <mix>, fully warm``: the same mix on a server whose answer cache already holds every
  question (each was asked once before the measurement): the endpoint's own cost, no matching.
- ``full, all distinct, no cache``: every question is matched (``--cache 0``, questions in turn,
  never the same one twice in a row): the matcher's full cost on every request.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import itertools
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOKEN = "benchtoken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APPID = "wxbench000000001"
ACCOUNT = "gh_bench"
QUESTION_FILES = [
    ROOT / "examples" / "qinghe" / "sample_questions.jsonl",
    ROOT / "tests" / "data" / "dev_questions.jsonl",
]


# ------------------------------------------------------------------------------------ servers


def synthetic_docs(base: list[Any], n: int) -> list[Any]:
    """``n`` catalog items made from the sample's, with distinct ids, titles and townships."""
    from content.matcher.documents import KIND_CATALOG

    catalog = [d for d in base if d.kind == KIND_CATALOG] or base
    words = sorted({w for d in catalog for w in d.elements if 2 <= len(w) <= 6}) or ["事项"]
    out = []
    for i in range(n):
        doc = catalog[i % len(catalog)]
        extra = words[(i * 7919) % len(words)]
        out.append(
            dataclasses.replace(
                doc,
                id=f"S{i:05d}",
                title=f"{doc.title}（{extra}）",
                township=f"合成{i % 60:02d}镇",
                elements=(*doc.elements[:4], extra),
            )
        )
    return out


def new_loop(kind: str) -> Any:
    """The event loop a server runs on: ``serve`` (the one ``cunwu serve`` picks: uvloop where it is
    installed) or ``asyncio`` (the standard one)."""
    if kind == "asyncio":
        return asyncio.new_event_loop()
    from bot.app import new_event_loop

    return new_event_loop()


def bench_matcher(session: Any, items: int) -> Any:
    """The real matcher over the sample township plus synthetic items, ``items`` in all."""
    from content.matcher.documents import load_documents, township_phones
    from content.matcher.service import Matcher
    from village_lists.documents import village_docs

    docs = load_documents(session)
    extra = synthetic_docs(docs, max(0, items - len(docs)))
    return Matcher.build([*docs, *extra], village_docs(session), phones=township_phones(session))


def serve_full(db_url: str, port: int, items: int, matcher_kind: str, cache: int, loop: str) -> None:
    from aiohttp import web

    from bot.app import create_app
    from bot.matcher_process import ProcessMatcherFactory
    from core.config import Settings

    factory: Any
    if matcher_kind == "stub":
        factory = lambda _session: StubMatcher()  # noqa: E731
    elif matcher_kind == "thread":  # in the server process, as before the worker process
        factory = functools.partial(bench_matcher, items=items)
    else:  # as cunwu serve does: in worker processes (CUNWU_MATCHER_PROCESSES)
        workers = Settings().matcher_processes
        factory = ProcessMatcherFactory(db_url, "endpoint:bench_matcher", {"items": items}, workers=workers)

    settings = Settings(
        database_url=db_url,
        wechat_token=TOKEN,
        wechat_aes_key=AES_KEY,
        wechat_appid=APPID,
        wechat_secret="benchsecret",
        wechat_api_base="http://127.0.0.1:9",
        reply_budget_seconds=4.0,
        public_url="http://bench.test",
    )
    app = create_app(settings, matcher_factory=factory, refresh_interval=3600, answer_cache_size=cache)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, loop=new_loop(loop))


class StubMatcher:
    """A matcher that answers at once (``--matcher stub``: the endpoint's own cost)."""

    def ask(self, question: str, village: str | None = None, township: str | None = None, top: int = 3) -> Any:
        from content.matcher.results import AskResult  # (the light module: no matcher libraries)

        return AskResult(True, f"答：{question}", (), 0.0, question)


def serve_bare(port: int, loop: str) -> None:
    from aiohttp import web

    from wechat.messages import render_text_reply
    from wechat.xml import parse_xml

    async def handler(request: web.Request) -> web.Response:
        fields = parse_xml(await request.read())
        return web.Response(
            text=render_text_reply(str(fields.get("ToUserName", "")), ACCOUNT, "收到"), content_type="application/xml"
        )

    app = web.Application()
    app.router.add_post("/wechat", handler)
    app.router.add_get("/healthz", lambda request: _ok())
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, loop=new_loop(loop))


async def _ok() -> Any:
    from aiohttp import web

    return web.Response(text="ok")


# ------------------------------------------------------------------------------------- client


def questions() -> list[str]:
    out: list[str] = []
    for path in QUESTION_FILES:
        if path.is_file():
            out += [json.loads(line)["q"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return out or ["低保怎么申请"]


@dataclasses.dataclass
class Figures:
    name: str
    requests: int
    seconds: float
    latencies: list[float]
    bad: int
    cpu: float = 0.0  # seconds of CPU the server used meanwhile (all its threads and its matcher worker)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def add(self, other: Figures) -> None:
        self.requests += other.requests
        self.seconds += other.seconds
        self.latencies += other.latencies
        self.bad += other.bad
        self.cpu += other.cpu

    def pct(self, p: float) -> float:
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(p / 100 * len(data)))] * 1000

    def line(self) -> str:
        return (
            f"{self.name:<36} {self.rps:8.1f} req/s   p50 {self.pct(50):7.2f} ms   p99 {self.pct(99):7.2f} ms"
            f"   server CPU {self.cpu / max(self.requests, 1) * 1000:5.2f} ms/request"
            f"   ({self.requests} requests in {self.seconds:.1f} s, {self.bad} not 200)"
        )


def question_stream(mix: str, zipf_s: float, seed: int = 11) -> Iterator[str]:
    """The questions the client sends, forever: ``cycle`` (in turn) or ``zipf`` (popular ones repeat)."""
    qs = questions()
    if mix == "cycle":
        while True:
            yield from qs
    rng = random.Random(seed)
    ranked = qs[:]
    rng.shuffle(ranked)  # which questions are the popular ones: fixed, not the files' order
    weights = list(itertools.accumulate(1.0 / (r**zipf_s) for r in range(1, len(ranked) + 1)))
    while True:
        yield from rng.choices(ranked, cum_weights=weights, k=1024)


async def run_client(
    url: str, name: str, concurrency: int, duration: float, warmup: int, seed: int, stream: Iterator[str]
) -> Figures:
    import aiohttp

    from wechat.crypto import Crypto
    from wechat.testing import build_signed_post, build_text_xml

    crypto = Crypto(TOKEN, AES_KEY, APPID)
    counter = iter(range(10**9))
    latencies: list[float] = []
    bad = 0

    def next_request() -> tuple[dict[str, str], bytes]:
        i = next(counter)
        openid = f"oBench{i % 500:06d}"
        xml = build_text_xml(ACCOUNT, openid, next(stream), msg_id=seed + i)
        params, body = build_signed_post(TOKEN, xml, openid=openid, crypto=crypto, to_user=ACCOUNT)
        return params, body.encode()

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> tuple[float, int]:
            params, body = next_request()
            started = time.perf_counter()
            async with session.post(url, params=params, data=body) as resp:
                await resp.read()
                return time.perf_counter() - started, resp.status

        await asyncio.gather(*(one() for _ in range(warmup)))
        stop = time.perf_counter() + duration

        async def worker() -> None:
            nonlocal bad
            while time.perf_counter() < stop:
                elapsed, status = await one()
                latencies.append(elapsed)
                if status != 200:
                    bad += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - began
    return Figures(name, len(latencies), seconds, latencies, bad)


# --------------------------------------------------------------------------------------- main


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its live child processes (the matcher worker), from /proc."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat(int(entry.name))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:  # fields[1]: the parent's pid
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 600) -> None:
    import aiohttp

    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"server exited with {proc.returncode}")
            try:
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.25)
    raise SystemExit("server did not start in time")


def prepare_database(db: str, tmp: Path) -> str:
    from click.testing import CliRunner

    from admin_cli.main import cli

    if db == "sqlite":
        url = f"sqlite:///{tmp / 'bench.db'}"
    else:
        import uuid

        from sqlalchemy import text

        from core.db import make_engine

        name = f"cunwu_bench_{uuid.uuid4().hex[:8]}"
        admin = make_engine(db, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = f"{db.rpartition('/')[0]}/{name}"
    result = CliRunner().invoke(cli, ["--db", url, "load-sample"])
    if result.exit_code != 0:
        raise SystemExit(result.output)
    return url


def drop_database(db: str, url: str) -> None:
    if db == "sqlite":
        return
    from sqlalchemy import text

    from core.db import make_engine

    admin = make_engine(db, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=10_000, help="catalog items the matcher searches")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of measurement per server (in all)")
    parser.add_argument("--warmup", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5, help="turns each server takes (duration split among them)")
    parser.add_argument("--db", default="sqlite", help="sqlite (a temporary file) or a PostgreSQL admin URL")
    parser.add_argument(
        "--matcher",
        choices=["real", "thread", "stub"],
        default="real",
        help="real: in worker processes, as cunwu serve runs it; thread: in the server process; stub: none",
    )
    parser.add_argument(
        "--cache", type=int, default=2048, help="answer cache size of the full server (0: every question is matched)"
    )
    parser.add_argument("--mix", choices=["zipf", "cycle"], default="zipf", help="question mix of the cached run")
    parser.add_argument("--zipf-s", type=float, default=1.0, help="Zipf exponent of the zipf mix")
    parser.add_argument(
        "--no-distinct", action="store_true", help="skip the all-distinct, no-cache run of the full server"
    )
    parser.add_argument("--no-warm", action="store_true", help="skip the fully-warm run of the full server")
    parser.add_argument(
        "--loop",
        choices=["serve", "asyncio"],
        default="serve",
        help="event loop of both servers: the one cunwu serve runs on (uvloop), or asyncio's (the client: asyncio)",
    )
    parser.add_argument("--serve", choices=["full", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve == "full":
        serve_full(args.url, args.port, args.items, args.matcher, args.cache, args.loop)
        return
    if args.serve == "bare":
        serve_bare(args.port, args.loop)
        return

    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    # (server, label, cache size, mix, warm: every question asked once before the measurement)
    runs = [("bare", "bare", args.cache, args.mix, False)]
    runs.append(("full", f"full, {args.mix}, cache {args.cache}", args.cache, args.mix, False))
    if not args.no_warm and args.cache >= len(questions()):
        runs.append(("full", f"full, {args.mix}, fully warm", args.cache, args.mix, True))
    if not args.no_distinct and args.cache != 0:
        runs.append(("full", "full, all distinct, no cache", 0, "cycle", False))
    base_seed = int(time.time() * 1000) * 1000
    with tempfile.TemporaryDirectory() as tmp:
        url = prepare_database(args.db, Path(tmp))
        procs: list[tuple[subprocess.Popen[bytes], int]] = []
        try:
            for serve, label, cache, _, warm in runs:
                port = free_port()
                cmd = [sys.executable, __file__, "--serve", serve, "--port", str(port), "--url", url]
                cmd += ["--items", str(args.items), "--matcher", args.matcher, "--cache", str(cache)]
                cmd += ["--loop", args.loop]
                proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                procs.append((proc, port))
                started = time.monotonic()
                asyncio.run(wait_ready(f"http://127.0.0.1:{port}/healthz", proc))
                if serve == "full":
                    print(f"{label}: server ready in {time.monotonic() - started:.1f} s (matcher built)")
                if warm:  # ask every question once (distinct MsgIds, far from the measured ones)
                    qs = questions()
                    asyncio.run(
                        run_client(
                            f"http://127.0.0.1:{port}/wechat",
                            label,
                            args.concurrency,
                            0.0,
                            len(qs),
                            seed=base_seed + 10**12,
                            stream=iter(qs),
                        )
                    )
            # the servers take turns, a slice each per round, so a change in the machine's load (other
            # work on these 2 cores) weighs on all of them alike
            results: list[Figures | None] = [None] * len(runs)
            streams = [question_stream(mix, args.zipf_s) for _, _, _, mix, _ in runs]
            for rnd in range(args.rounds):
                for n, ((proc, port), (_, label, _, _, _)) in enumerate(zip(procs, runs, strict=True)):
                    cpu0 = cpu_seconds(proc.pid)
                    figures = asyncio.run(
                        run_client(
                            f"http://127.0.0.1:{port}/wechat",
                            label,
                            args.concurrency,
                            args.duration / args.rounds,
                            args.warmup if rnd == 0 else 0,
                            seed=base_seed + (rnd * len(runs) + n) * 10**7,
                            stream=streams[n],
                        )
                    )
                    figures.cpu = cpu_seconds(proc.pid) - cpu0
                    if results[n] is None:
                        results[n] = figures
                    else:
                        results[n].add(figures)  # type: ignore[union-attr]
        finally:
            for proc, _ in procs:
                proc.terminate()
            for proc, _ in procs:
                proc.wait(timeout=30)
            drop_database(args.db, url)
    cores = os.cpu_count()
    mix = (
        f"Zipf-like mix (s={args.zipf_s}) over {len(questions())} sample+dev questions"
        if args.mix == "zipf"
        else f"{len(questions())} sample+dev questions in turn"
    )
    probe = new_loop(args.loop)
    loop_name = type(probe).__module__.split(".")[0]
    probe.close()
    print(
        f"POST /wechat, safe mode (AES), {args.concurrency} concurrent clients, {args.duration:.0f} s each "
        f"(in {args.rounds} turns), "
        f"{cores} cores, database {args.db}, matcher {args.matcher} over {args.items} items, "
        f"server event loop {loop_name}; cached run: {mix}"
    )
    figs = [f for f in results if f is not None]
    bare = figs[0]
    for fig in figs:
        print(f"{fig.line()}   {fig.rps / bare.rps:.2f}× bare")
    for fig in figs[1:]:
        print(f"ratio {fig.name} / bare throughput: {fig.rps / bare.rps:.2f}×")


if __name__ == "__main__":
    main()
