"""Speed of the question matcher at 1k, 10k and 100k items, against two baselines.

    .venv/bin/python bench/matcher_speed.py [--sizes 1000,10000,100000] [--queries 200]

Synthetic multi-township catalogs are grown from the sample's vocabulary, as a province-wide
deployment would hold: each township carries the sample catalog with its titles and element lists
varied by words drawn from the sample (so townships differ), plus the sample interpretations once.
Each (size, system) runs in its own subprocess so the resident memory is per run. The catalogs
are made once per size in this process (the sample is loaded through the CLI into SQLite) and
handed to the runs as a pickle, so a run holds only the documents and what it builds: no database
rows, ORM session or CLI modules. Memory columns: ``base MB`` is the run's RSS before building
(interpreter, documents, questions); ``index MB`` is RSS after the build minus that; ``peak MB``
is the peak RSS of the whole run (build and questions included).
Questions are the sample and development questions, asked unbound (all townships), each once
after one warm-up question (first asks: the per-doc rerank views are made by the build, so a first
ask pays no more for its candidates than a repeated one).

``--cli-rss N`` measures what an operator sees instead: the grown catalog of N items is written as a
county spreadsheet (with a 乡镇 column), imported with ``cunwu catalog import`` and ``cunwu interp
import`` into a SQLite file, and ``cunwu ask --batch`` answers the questions; the peak RSS of that
``cunwu`` process (``wait4``'s ``ru_maxrss``, its own, not the parent's) is printed.
"""

from __future__ import annotations

import argparse
import gc
import json
import pickle
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

SYSTEMS = ("cunwu", "jieba+rank_bm25", "rapidfuzz WRatio")


def sample_docs() -> list:  # type: ignore[type-arg]
    from matcher_quality import sample_docs as load

    with tempfile.TemporaryDirectory() as tmp:
        return [d for d in load(Path(tmp)) if d.kind != "village_item"]


def grow(docs: list, size: int, seed: int = 7) -> list:  # type: ignore[type-arg]
    """A catalog of ``size`` items over many townships, grown from the sample's words."""
    import jieba

    rng = random.Random(seed)
    catalog = [d for d in docs if d.kind == "catalog"]
    interps = [d for d in docs if d.kind == "interpretation"]
    words = sorted({w for d in catalog for w in jieba.lcut(d.title + "".join(d.elements)) if len(w) >= 2})
    elements = sorted({e for d in catalog for e in d.elements})
    out = list(interps)
    n = 0
    while len(out) < size:
        base = catalog[n % len(catalog)]
        town = f"合成{n // len(catalog):04d}镇"
        title = base.title if n < len(catalog) else f"{rng.choice(words)}{base.title}{rng.choice(words)}"
        els = tuple(base.elements) + tuple(rng.sample(elements, 2))
        out.append(replace(base, township=town, title=title, elements=els))
        n += 1
    return out[:size]


def questions(limit: int) -> list[str]:
    rows: list[str] = []
    for path in (
        ROOT / "examples" / "qinghe" / "sample_questions.jsonl",
        ROOT / "tests" / "data" / "dev_questions.jsonl",
    ):
        if path.exists():
            rows += [json.loads(line)["q"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows[:limit]


def _status_mb(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, in MB. Not ``getrusage``'s ``ru_maxrss``:
    on Linux that survives ``exec`` and would report the parent's peak (the sample load, jieba)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _rss_mb() -> float:
    return _status_mb("VmRSS")


def child(docs_path: Path, system: str, n_queries: int) -> dict:  # type: ignore[type-arg]
    with docs_path.open("rb") as fh:
        docs = pickle.load(fh)
    size = len(docs)
    qs = questions(n_queries)
    gc.collect()
    base = _rss_mb()
    t0 = time.perf_counter()
    if system == "cunwu":
        from content.matcher.service import Matcher

        m = Matcher.build(docs)

        def ask(q: str) -> None:
            m.ask(q)

    elif system == "jieba+rank_bm25":
        import jieba
        from rank_bm25 import BM25Okapi

        bm = BM25Okapi([jieba.lcut(" ".join([d.title, d.group, *d.elements])) for d in docs])

        def ask(q: str) -> None:
            scores = bm.get_scores(jieba.lcut(q))
            scores.argsort()[-3:]

    else:
        from rapidfuzz import fuzz, process

        titles = [d.title for d in docs]

        def ask(q: str) -> None:
            process.extract(q, titles, scorer=fuzz.WRatio, limit=3)

    build = time.perf_counter() - t0
    gc.collect()
    built = _rss_mb()
    ask(qs[0])  # warm-up
    times = []
    for q in qs:
        s = time.perf_counter()
        ask(q)
        times.append((time.perf_counter() - s) * 1000)
    times.sort()
    p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
    peak = _status_mb("VmHWM")
    return {
        "size": size,
        "system": system,
        "n": len(times),
        "median": statistics.median(times),
        "p99": p99,
        "build": build,
        "rss": peak,
        "base": base,
        "index": built - base,
        "after": _rss_mb() - base,
    }


def _catalog_csv(docs: list, path: Path) -> None:  # type: ignore[type-arg]
    """The grown catalog as a county spreadsheet: the sample's rows, each township's titles and elements."""
    import csv

    from content.vocab import CATALOG_COLUMNS, TOWNSHIP_COLUMN

    with (ROOT / "examples" / "qinghe" / "township_catalog.csv").open(encoding="utf-8", newline="") as fh:
        base = {rec["编码"]: rec for rec in csv.DictReader(fh)}
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*CATALOG_COLUMNS, TOWNSHIP_COLUMN])
        for d in docs:
            if d.kind != "catalog":
                continue
            rec = dict(base[d.id], **{"二级事项": d.title, "公开内容（要素）": "、".join(dict.fromkeys(d.elements))})
            writer.writerow([*(rec[c] for c in CATALOG_COLUMNS), d.township])


def cli_rss(size: int, n_queries: int) -> None:
    """Peak RSS of ``cunwu ask --batch`` over a county catalog of ``size`` items (see the module docstring)."""
    import os

    docs = grow(sample_docs(), size)
    cunwu = [sys.executable, "-m", "admin_cli.main"]
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{Path(tmp) / 'county.db'}"
        sheet = Path(tmp) / "county.csv"
        _catalog_csv(docs, sheet)
        asked = Path(tmp) / "questions.jsonl"
        asked.write_text("".join(json.dumps({"q": q}, ensure_ascii=False) + "\n" for q in questions(n_queries)))
        t0 = time.perf_counter()
        for step in (
            ["db", "upgrade"],
            ["catalog", "import", str(sheet)],
            ["interp", "import", str(ROOT / "examples" / "qinghe" / "interpretations")],
        ):
            subprocess.run([*cunwu, "--db", db, *step], check=True, capture_output=True, cwd=ROOT)
        loaded = time.perf_counter() - t0
        t0 = time.perf_counter()
        proc = subprocess.Popen([*cunwu, "--db", db, "ask", "--batch", str(asked)], stdout=subprocess.DEVNULL, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        took = time.perf_counter() - t0
        if status != 0:
            raise SystemExit(f"cunwu ask --batch failed ({status})")
    print(
        f"cunwu ask --batch over {size} items ({len(questions(n_queries))} questions): peak RSS"
        f" {usage.ru_maxrss / 1024:.0f} MB, {took:.1f} s (import {loaded:.1f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=200, help="questions timed per run")
    parser.add_argument("--baseline-queries", type=int, default=60, help="questions timed for the slow baselines")
    parser.add_argument("--child", nargs=2, metavar=("SIZE", "SYSTEM"), help=argparse.SUPPRESS)
    parser.add_argument("--cli-rss", type=int, metavar="N", help="peak RSS of `cunwu ask --batch` over N items")
    args = parser.parse_args()
    if args.cli_rss:
        cli_rss(args.cli_rss, args.queries)
        return
    if args.child:
        path, system = Path(args.child[0]), args.child[1]
        n = args.queries if system == "cunwu" else args.baseline_queries
        print(json.dumps(child(path, system, n)))
        return
    print(
        "| items | system | questions | median ms | p99 ms | build s | base MB | index MB | index+caches MB | peak MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    base_docs = sample_docs()
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            docs_path = Path(tmp) / f"docs{size}.pickle"
            with docs_path.open("wb") as fh:
                pickle.dump(grow(base_docs, size), fh, protocol=pickle.HIGHEST_PROTOCOL)
            results = {}
            for system in SYSTEMS:
                cmd = [
                    sys.executable,
                    __file__,
                    "--child",
                    str(docs_path),
                    system,
                    "--queries",
                    str(args.queries),
                    "--baseline-queries",
                    str(args.baseline_queries),
                ]
                proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                results[system] = r
                print(
                    f"| {size} | {system} | {r['n']} | {r['median']:.2f} | {r['p99']:.2f} | {r['build']:.2f} |"
                    f" {r['base']:.0f} | {r['index']:.0f} | {r['after']:.0f} | {r['rss']:.0f} |",
                    flush=True,
                )
            ratio = results["jieba+rank_bm25"]["p99"] / max(results["cunwu"]["p99"], 1e-9)
            print(f"| {size} | p99 speed-up vs jieba+rank_bm25 | | | {ratio:.1f}× | | | | | |", flush=True)


if __name__ == "__main__":
    main()
