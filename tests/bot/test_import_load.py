"""A real catalog import on the bot's SQLite file while villagers ask: nobody gets an apology.

The small-scale twin of ``bench/import_load.py`` (100,000 rows at 20 questions a second): a
``cunwu catalog import`` process writes a few thousand rows into the file the bot is serving from.
"""

from __future__ import annotations

import asyncio
import csv
import sys
from pathlib import Path

from sqlalchemy import text

from core.db import make_engine
from core.schema import upgrade
from tests.bot.conftest import BotFactory, StubMatcher

ROOT = Path(__file__).resolve().parents[2]
ROWS = 15000
RATE = 20  # questions a second


def write_catalog(path: Path, rows: int) -> None:
    """``rows`` catalog rows made from the sample's, with new codes and titles, in one township."""
    with (ROOT / "examples" / "qinghe" / "township_catalog.csv").open(encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader)
        base = list(reader)
    taken: dict[str, int] = {}
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(header)
        for n in range(rows):
            row = list(base[n % len(base)])
            domain = row[0].split("-")[0]
            taken[domain] = taken.get(domain, 0) + 1
            if taken[domain] > 999:
                continue
            row[0], row[3] = f"{domain}-{taken[domain]:03d}", f"{row[3]}（{n}）"
            out.writerow(row)


async def test_villagers_are_answered_while_a_catalog_import_runs(
    make_bot: BotFactory, tmp_path: Path, stub: StubMatcher
) -> None:
    db = tmp_path / "busy.db"
    url = f"sqlite:///{db}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    catalog = tmp_path / "big.csv"
    write_catalog(catalog, ROWS)
    _, wx = await make_bot(url, matcher=stub, budget=1.5)
    loop = asyncio.get_running_loop()

    importing = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "admin_cli.main", "--db", url, "catalog", "import", str(catalog),
        "--township", "测试镇", cwd=ROOT, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    replies: list[str | None] = []
    latencies: list[float] = []
    health: list[int] = []
    n = during = 0
    while importing.returncode is None or n < RATE:  # at least a second of questions
        during += importing.returncode is None
        sent = loop.time()
        reply = await wx.text(f"oImport{n:06d}", f"低保怎么申请{n}", msg_id=90_000 + n)
        latencies.append(loop.time() - sent)
        replies.append(reply.content)
        if n % RATE == 0:
            health.append((await wx.client.get("/healthz")).status)
        n += 1
        await asyncio.sleep(max(0.0, 1 / RATE - (loop.time() - sent)))
        if n > 60 * RATE:
            break
    _, stderr = await importing.communicate()
    assert importing.returncode == 0, stderr.decode()
    assert replies == [f"答：低保怎么申请{k}" for k in range(n)]  # a real answer each, no apology
    assert max(latencies) < 1.5 and set(health) == {200}
    assert len(stub.calls) == n
    engine = make_engine(url)
    with engine.connect() as conn:
        imported = conn.execute(text("SELECT count(*) FROM catalog_items")).scalar_one()
    engine.dispose()
    assert imported > 14_000 and during >= 10  # the import was real, and questions came while it ran
