"""Quality of the question matcher against two baselines, on the sample and development sets.

    .venv/bin/python bench/matcher_quality.py [--failures] [--split]

Loads the sample township into a temporary SQLite database (``cunwu load-sample``), builds the
matcher, and prints top-1, top-3, MRR, off-topic abstention and wrong-answer rate for:
- cunwu: the matcher (content/matcher);
- rapidfuzz: ``process.extract`` with WRatio over document titles (abstains below 60);
- jieba+bm25: jieba words + rank_bm25 over titles and content (abstains on a zero score).
``--split`` also reports the development set's two halves (even / odd lines) separately: the
matcher was tuned on the even half, the odd half is held out.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from content.matcher.documents import Doc  # noqa: E402
from content.matcher.evaluation import Metrics, Outcome, evaluate, load_rows  # noqa: E402
from content.matcher.service import Matcher  # noqa: E402

SAMPLE = ROOT / "examples" / "qinghe"
SETS = {
    "sample": SAMPLE / "sample_questions.jsonl",
    "dev": ROOT / "tests" / "data" / "dev_questions.jsonl",
    "tune": ROOT / "tests" / "data" / "tune_questions.jsonl",
    "holdout": ROOT / "tests" / "data" / "holdout_questions.jsonl",
}


def _sample_url(tmp: Path) -> str:
    from click.testing import CliRunner

    from admin_cli.main import cli

    url = f"sqlite:///{tmp / 'bench.db'}"
    result = CliRunner().invoke(cli, ["--db", url, "load-sample"])
    if result.exit_code != 0:
        raise SystemExit(result.output)
    return url


def sample_docs(tmp: Path) -> list[Doc]:
    """The sample township's documents (catalog, interpretations, village rows), without a matcher."""
    from content.matcher.documents import load_documents
    from core.db import make_engine, make_sessionmaker

    engine = make_engine(_sample_url(tmp))
    with make_sessionmaker(engine)() as session:
        docs = load_documents(session) + sample_village_docs(session)
    engine.dispose()
    return docs


def sample_matcher(tmp: Path) -> tuple[Matcher, list[Doc]]:
    """The matcher over the sample township, loaded through the real CLI into a SQLite file."""
    from content.matcher.documents import load_documents
    from core.db import make_engine, make_sessionmaker

    engine = make_engine(_sample_url(tmp))
    with make_sessionmaker(engine)() as session:
        vdocs = sample_village_docs(session)
        docs = load_documents(session)
        matcher = Matcher.from_session(session, vdocs)
    engine.dispose()
    return matcher, docs + vdocs


def sample_village_docs(session: Any) -> list[Doc]:
    """Village rows from the database, or from the sample CSV files until the importer lands."""
    from village_lists.documents import village_docs, village_docs_from_dir

    try:
        docs = village_docs(session)
    except Exception:  # table missing on an old schema
        docs = []
    return docs or village_docs_from_dir(SAMPLE, "清河镇")


class FuzzBaseline:
    def __init__(self, docs: list[Doc]) -> None:
        self.docs = docs

    def outcome(self, row: dict[str, Any]) -> Outcome:
        from rapidfuzz import fuzz, process

        village = row.get("village")
        pool = [d for d in self.docs if d.kind != "village_item" or d.village == village]
        hits = process.extract(row["q"], [d.title for d in pool], scorer=fuzz.WRatio, limit=3)
        ids = tuple(pool[i].id for _, _, i in hits)
        return Outcome(bool(hits) and hits[0][1] >= 60, ids)


class JiebaBm25Baseline:
    def __init__(self, docs: list[Doc]) -> None:
        import jieba
        from rank_bm25 import BM25Okapi

        self.docs = docs
        self.cut = jieba.lcut
        corpus = [self.cut(" ".join([d.title, d.group, *d.elements, *d.keywords, *d.questions])) for d in docs]
        self.bm25 = BM25Okapi(corpus)

    def outcome(self, row: dict[str, Any]) -> Outcome:
        import numpy as np

        scores = self.bm25.get_scores(self.cut(row["q"]))
        village = row.get("village")
        for i, d in enumerate(self.docs):
            if d.kind == "village_item" and d.village != village:
                scores[i] = 0.0
        order = np.argsort(-scores)[:3]
        return Outcome(bool(scores[order[0]] > 0), tuple(self.docs[i].id for i in order))


def matcher_outcome(matcher: Matcher, timings: list[float] | None = None):  # type: ignore[no-untyped-def]
    def ask(row: dict[str, Any]) -> Outcome:
        started = time.perf_counter()
        res = matcher.ask(row["q"], village=row.get("village"))
        if timings is not None:
            timings.append((time.perf_counter() - started) * 1000.0)
        return Outcome(res.answered, tuple(r.id for r in res.results), res.reply)

    return ask


def fmt(name: str, m: Metrics) -> str:
    return (
        f"| {name:<22} | {m.n:>4} | {m.top1:6.3f} | {m.top3:6.3f} | {m.mrr:6.3f} | {m.abstain:8.3f} |"
        f" {m.wrong:6.3f} | {m.forbidden:>4} | {m.leaks:>4} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--failures", action="store_true", help="list the questions the matcher gets wrong (never the holdout set)"
    )
    parser.add_argument("--split", action="store_true", help="report the dev set's tuned / held-out halves")
    parser.add_argument("--no-baselines", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        matcher, docs = sample_matcher(Path(tmp))
    timings: list[float] = []
    systems = {"cunwu": matcher_outcome(matcher, timings)}
    if not args.no_baselines:
        systems["rapidfuzz WRatio"] = FuzzBaseline(docs).outcome
        systems["jieba + rank_bm25"] = JiebaBm25Baseline(docs).outcome
    sets = {name: load_rows(path) for name, path in SETS.items() if path.exists()}
    if args.split and "dev" in sets:
        sets["dev (even, tuned)"] = sets["dev"][0::2]
        sets["dev (odd, held out)"] = sets["dev"][1::2]
    print("| set / system           |    n |  top-1 |  top-3 |    MRR | abstain* |  wrong | forb | leak |")
    print("|---|---|---|---|---|---|---|---|---|")
    for set_name, rows in sets.items():
        for sys_name, ask in systems.items():
            m = evaluate(rows, ask)
            print(fmt(f"{set_name}: {sys_name}", m))
            if args.failures and sys_name == "cunwu" and "(" not in set_name and set_name != "holdout":
                for f in m.failures:
                    print("   ", f)
    print("* abstain = share of off-topic questions answered false (greetings, chit-chat, prices…).")
    if timings:
        ordered = sorted(timings)
        p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
        print(f"cunwu per question: median {statistics.median(ordered):.2f} ms, p90 {p90:.2f} ms ({len(ordered)} asks)")


if __name__ == "__main__":
    main()
