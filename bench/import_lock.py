"""How long a large catalog import holds SQLite's write lock (what the bot waits for meanwhile).

    .venv/bin/python bench/import_lock.py [--rows 100000]

Makes a catalog of ``--rows`` items over several townships (the ``乡镇`` column; a township holds
at most 26 × 999 codes) from the sample's rows, then runs ``cunwu catalog import`` on a fresh
SQLite file twice in a subprocess: the first import inserts every item, the second (every title
changed) updates every item. Meanwhile a probe in this process tries ``BEGIN IMMEDIATE`` on its
own connection every 5 ms without waiting (busy_timeout 0). The longest stretch in which the
probe cannot get the write lock is the time the import held it. Prints, per import: the
import's wall time and that longest stretch.
"""

from __future__ import annotations

import argparse
import csv
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CATALOG = ROOT / "examples" / "qinghe" / "township_catalog.csv"
PER_TOWNSHIP = 25_000


def make_catalog(path: Path, rows: int, variant: str = "") -> None:
    """``rows`` valid catalog rows: the sample's 223 rows grown by sequence numbers, 25,000 a township."""
    with SAMPLE_CATALOG.open(encoding="utf-8", newline="") as fh:
        header, *sample = list(csv.reader(fh))
    by_domain: dict[str, list[list[str]]] = {}
    for row in sample:
        by_domain.setdefault(row[0][:2], []).append(row)
    domains = sorted(by_domain)
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["乡镇", *header])
        for n in range(rows):
            township, k = divmod(n, PER_TOWNSHIP)
            domain = domains[k % len(domains)]
            seq = k // len(domains) + 1
            base = by_domain[domain][seq % len(by_domain[domain])]
            code = f"{domain}-{seq:03d}"
            title = f"{base[3]}{variant}（{seq}）"
            out.writerow([f"第{township + 1}镇", code, base[1], base[2], title, *base[4:]])


class LockProbe(threading.Thread):
    """Tries to take the write lock every ``interval`` s; remembers the longest stretch it could not."""

    def __init__(self, db: Path, interval: float = 0.005) -> None:
        super().__init__(daemon=True)
        self.db, self.interval = db, interval
        self.longest = 0.0
        self._done = threading.Event()

    def run(self) -> None:
        conn = sqlite3.connect(self.db, isolation_level=None, timeout=0)
        last_free = time.perf_counter()
        while not self._done.is_set():
            now = time.perf_counter()
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("ROLLBACK")
                self.longest = max(self.longest, now - last_free)
                last_free = time.perf_counter()
            except sqlite3.OperationalError:
                pass
            time.sleep(self.interval)
        conn.close()

    def stop(self) -> float:
        self._done.set()
        self.join()
        return self.longest


def cunwu(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "admin_cli.main", "--db", url, *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)


def timed_import(db: Path, catalog: Path) -> tuple[float, float, str]:
    """(wall seconds, longest write-lock hold in seconds, the import's summary line)."""
    probe = LockProbe(db)
    probe.start()
    started = time.perf_counter()
    done = cunwu(f"sqlite:///{db}", "catalog", "import", str(catalog), "--allow-retire")
    wall = time.perf_counter() - started
    return wall, probe.stop(), done.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "cunwu.db"
        first, second = Path(tmp) / "first.csv", Path(tmp) / "second.csv"
        make_catalog(first, args.rows)
        make_catalog(second, args.rows, variant="（修订）")
        cunwu(f"sqlite:///{db}", "db", "upgrade")
        print(f"catalog import of {args.rows:,} rows on SQLite")
        print(f"{'import':<22}{'wall s':>8}{'lock held s':>13}  result")
        for label, path in (("first (all inserted)", first), ("second (all updated)", second)):
            wall, held, summary = timed_import(db, path)
            print(f"{label:<22}{wall:>8.1f}{held:>13.2f}  {summary}")


if __name__ == "__main__":
    main()
