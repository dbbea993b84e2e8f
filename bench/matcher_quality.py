"""Quality of the question matcher against two baselines, on tuned and held-out question sets.

    .venv/bin/python bench/matcher_quality.py [--failures] [--tuned] [--only NAME] [--no-baselines] [--by-kind]

Each township is loaded through the real CLI into a temporary SQLite database (the sample with
``cunwu load-sample``; any other township folder with ``cunwu catalog import --township``,
``cunwu interp import``, ``cunwu village import`` and ``cunwu village import-list --dir``), and the
matcher is built from it as the bot builds it. For every set it prints, for three systems:
- cunwu: the matcher (content/matcher);
- rapidfuzz: ``process.extract`` with WRatio over document titles (abstains below 60);
- jieba+bm25: jieba words + rank_bm25 over titles and content (abstains on a zero score);
document-level top-1, top-3 and MRR, the answer-level pass rate (every fact string of a row in the
reply; a baseline's reply is its first document's text, cut at WeChat's length), off-topic
abstention, wrong answers, forbidden documents and leaks.

Tuned sets are those the matcher was developed on. Held-out sets (the old holdout and everything
under tests/data/heldout/) were written by someone who had not seen the matcher's data and are
never tuned on: only their aggregate figures are printed, ``--failures`` skips them.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from content.matcher.documents import KIND_INTERPRETATION, KIND_VILLAGE, Doc  # noqa: E402
from content.matcher.evaluation import Metrics, Outcome, evaluate, load_rows  # noqa: E402
from content.matcher.reply import MAX_CHARS  # noqa: E402
from content.matcher.service import Matcher  # noqa: E402

SAMPLE = ROOT / "examples" / "qinghe"
DATA = ROOT / "tests" / "data"
HELDOUT = DATA / "heldout"
TUNED = DATA / "tuned"


@dataclass(frozen=True)
class QuestionSet:
    name: str
    path: Path
    township: str  # key of the township the questions are asked of
    heldout: bool


SETS = [
    QuestionSet("sample", SAMPLE / "sample_questions.jsonl", "sample", False),
    QuestionSet("dev", DATA / "dev_questions.jsonl", "sample", False),
    QuestionSet("tune", DATA / "tune_questions.jsonl", "sample", False),
    QuestionSet("facts (tuned)", DATA / "facts_tune.jsonl", "sample", False),
    QuestionSet("off-topic (tuned)", DATA / "offtopic_tune.jsonl", "sample", False),
    QuestionSet("off-topic 2 (tuned)", DATA / "offtopic_tune2.jsonl", "sample", False),
    QuestionSet("dongbei (tuned)", TUNED / "township_dongbei" / "questions.jsonl", "dongbei", False),
    QuestionSet("qinghe facts 2 (tuned)", TUNED / "township_dongbei" / "qinghe_facts.jsonl", "sample", False),
    QuestionSet("lingnan (tuned)", TUNED / "township_lingnan" / "questions.jsonl", "lingnan", False),
    QuestionSet("qinghe facts 3 (tuned)", TUNED / "township_lingnan" / "qinghe_facts.jsonl", "sample", False),
    QuestionSet("xibei (tuned)", TUNED / "township_xibei" / "questions.jsonl", "xibei", False),
    QuestionSet("qinghe facts 4 (tuned)", TUNED / "township_xibei" / "qinghe_facts.jsonl", "sample", False),
    QuestionSet("jiangnan (tuned)", TUNED / "township_jiangnan" / "questions.jsonl", "jiangnan", False),
    QuestionSet("qinghe facts 5 (tuned)", TUNED / "township_jiangnan" / "qinghe_facts.jsonl", "sample", False),
    QuestionSet("jiaodong (tuned)", TUNED / "township_jiaodong" / "questions.jsonl", "jiaodong", False),
    QuestionSet("qinghe facts 6 (tuned)", TUNED / "township_jiaodong" / "qinghe_facts.jsonl", "sample", False),
    QuestionSet("xiangxi (tuned)", TUNED / "township_xiangxi" / "questions.jsonl", "xiangxi", False),
    QuestionSet("qinghe facts 7 (tuned)", TUNED / "township_xiangxi" / "qinghe_facts.jsonl", "sample", False),
    QuestionSet("guizhong (tuned)", TUNED / "township_guizhong" / "questions.jsonl", "guizhong", False),
    QuestionSet("qinghe facts 8 (tuned)", TUNED / "township_guizhong" / "qinghe_facts.jsonl", "sample", False),
    QuestionSet("huaihe (tuned)", TUNED / "township_huaihe" / "questions.jsonl", "huaihe", False),
    QuestionSet("qinghe facts 9 (tuned)", TUNED / "township_huaihe" / "qinghe_facts.jsonl", "sample", False),
    QuestionSet("gannan (tuned)", TUNED / "township_gannan" / "questions.jsonl", "gannan", False),
    QuestionSet("qinghe facts 10 (tuned)", TUNED / "township_gannan" / "qinghe_facts.jsonl", "sample", False),
    QuestionSet("jizhong (tuned)", TUNED / "township_jizhong" / "questions.jsonl", "jizhong", False),
    QuestionSet("qinghe facts 11 (tuned)", TUNED / "township_jizhong" / "qinghe_facts.jsonl", "sample", False),
    QuestionSet("qiongnan (tuned)", TUNED / "township_qiongnan" / "questions.jsonl", "qiongnan", False),
    QuestionSet("qinghe facts 12 (tuned)", TUNED / "township_qiongnan" / "qinghe_facts.jsonl", "sample", False),
    QuestionSet("jinzhong (tuned)", TUNED / "township_jinzhong" / "questions.jsonl", "jinzhong", False),
    QuestionSet("qinghe facts 13 (tuned)", TUNED / "township_jinzhong" / "qinghe_facts.jsonl", "sample", False),
    QuestionSet("minnan (tuned)", TUNED / "township_minnan" / "questions.jsonl", "minnan", False),
    QuestionSet("qinghe facts 14 (tuned)", TUNED / "township_minnan" / "qinghe_facts.jsonl", "sample", False),
    QuestionSet("sanxia (tuned)", TUNED / "township_sanxia" / "questions.jsonl", "sanxia", False),
    QuestionSet("qinghe facts 15 (tuned)", TUNED / "township_sanxia" / "qinghe_facts.jsonl", "sample", False),
    QuestionSet("subei (tuned)", TUNED / "township_subei" / "questions.jsonl", "subei", False),
    QuestionSet("qinghe facts 16 (tuned)", TUNED / "township_subei" / "qinghe_facts.jsonl", "sample", False),
    QuestionSet("shaannan (tuned)", TUNED / "township_shaannan" / "questions.jsonl", "shaannan", False),
    QuestionSet("qinghe facts 17 (tuned)", TUNED / "township_shaannan" / "qinghe_facts.jsonl", "sample", False),
    QuestionSet("zhexi (tuned)", TUNED / "township_zhexi" / "questions.jsonl", "zhexi", False),
    QuestionSet("qinghe facts 18 (tuned)", TUNED / "township_zhexi" / "qinghe_facts.jsonl", "sample", False),
    QuestionSet("ningxia (tuned)", TUNED / "township_ningxia" / "questions.jsonl", "ningxia", False),
    QuestionSet("qinghe facts 19 (tuned)", TUNED / "township_ningxia" / "qinghe_facts.jsonl", "sample", False),
    QuestionSet("wannan (tuned)", TUNED / "township_wannan" / "questions.jsonl", "wannan", False),
    QuestionSet("qinghe facts 20 (tuned)", TUNED / "township_wannan" / "qinghe_facts.jsonl", "sample", False),
    QuestionSet("poyang (tuned)", TUNED / "township_poyang" / "questions.jsonl", "poyang", False),
    QuestionSet("qinghe facts 21 (tuned)", TUNED / "township_poyang" / "qinghe_facts.jsonl", "sample", False),
    QuestionSet("enshi (tuned)", TUNED / "township_enshi" / "questions.jsonl", "enshi", False),
    QuestionSet("qinghe facts 22 (tuned)", TUNED / "township_enshi" / "qinghe_facts.jsonl", "sample", False),
    QuestionSet("yanbian (tuned)", TUNED / "township_yanbian" / "questions.jsonl", "yanbian", False),
    QuestionSet("qinghe facts 23 (tuned)", TUNED / "township_yanbian" / "qinghe_facts.jsonl", "sample", False),
    QuestionSet("holdout (old)", DATA / "holdout_questions.jsonl", "sample", True),
    QuestionSet("qinghe facts (held out)", HELDOUT / "qinghe_facts.jsonl", "sample", True),
    QuestionSet("henan (held out)", HELDOUT / "township_henan" / "questions.jsonl", "henan", True),
    QuestionSet("chuanyu (held out)", HELDOUT / "township_chuanyu" / "questions.jsonl", "chuanyu", True),
    QuestionSet("caoyuan (held out)", HELDOUT / "township_caoyuan" / "questions.jsonl", "caoyuan", True),
    QuestionSet("hexi (held out)", HELDOUT / "township_hexi" / "questions.jsonl", "hexi", True),
    QuestionSet("qiandong (held out)", HELDOUT / "township_qiandong" / "questions.jsonl", "qiandong", True),
    QuestionSet("jianghan (held out)", HELDOUT / "township_jianghan" / "questions.jsonl", "jianghan", True),
    QuestionSet("hehuang (held out)", HELDOUT / "township_hehuang" / "questions.jsonl", "hehuang", True),
    QuestionSet("tianshan (held out)", HELDOUT / "township_tianshan" / "questions.jsonl", "tianshan", True),
    QuestionSet("liaoxi (held out)", HELDOUT / "township_liaoxi" / "questions.jsonl", "liaoxi", True),
    QuestionSet("luxinan (held out)", HELDOUT / "township_luxinan" / "questions.jsonl", "luxinan", True),
    QuestionSet("longnan (held out)", HELDOUT / "township_longnan" / "questions.jsonl", "longnan", True),
    QuestionSet("liangshan (held out)", HELDOUT / "township_liangshan" / "questions.jsonl", "liangshan", True),
]
TOWNSHIPS = {
    "sample": SAMPLE,
    "henan": HELDOUT / "township_henan",
    "chuanyu": HELDOUT / "township_chuanyu",
    "caoyuan": HELDOUT / "township_caoyuan",
    "dongbei": TUNED / "township_dongbei",
    "lingnan": TUNED / "township_lingnan",
    "xibei": TUNED / "township_xibei",
    "jiangnan": TUNED / "township_jiangnan",
    "jiaodong": TUNED / "township_jiaodong",
    "xiangxi": TUNED / "township_xiangxi",
    "guizhong": TUNED / "township_guizhong",
    "huaihe": TUNED / "township_huaihe",
    "hexi": HELDOUT / "township_hexi",
    "gannan": TUNED / "township_gannan",
    "jizhong": TUNED / "township_jizhong",
    "qiongnan": TUNED / "township_qiongnan",
    "qiandong": HELDOUT / "township_qiandong",
    "jianghan": HELDOUT / "township_jianghan",
    "tianshan": HELDOUT / "township_tianshan",
    "liaoxi": HELDOUT / "township_liaoxi",
    "luxinan": HELDOUT / "township_luxinan",
    "longnan": HELDOUT / "township_longnan",
    "sanxia": TUNED / "township_sanxia",
    "subei": TUNED / "township_subei",
    "shaannan": TUNED / "township_shaannan",
    "zhexi": TUNED / "township_zhexi",
    "ningxia": TUNED / "township_ningxia",
    "wannan": TUNED / "township_wannan",
    "poyang": TUNED / "township_poyang",
    "enshi": TUNED / "township_enshi",
    "yanbian": TUNED / "township_yanbian",
    "liangshan": HELDOUT / "township_liangshan",
    "hehuang": HELDOUT / "township_hehuang",
    "jinzhong": TUNED / "township_jinzhong",
    "minnan": TUNED / "township_minnan",
}


def _run_cli(args: list[str]) -> tuple[int, str]:
    from click.testing import CliRunner

    from admin_cli.main import cli

    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.output


def _township_name(folder: Path) -> str:
    """The township a folder's villages name (``villages.csv``'s 乡镇 column), else the folder's name."""
    villages = folder / "villages.csv"
    if villages.exists():
        with villages.open(encoding="utf-8-sig", newline="") as fh:
            for rec in csv.DictReader(fh):
                if rec.get("乡镇", "").strip():
                    return rec["乡镇"].strip()
    return folder.name


def load_township(db: Path, folder: Path, *, quiet: bool) -> str:
    """Load a township folder into a new SQLite file through the CLI; its URL.

    The sample goes through ``cunwu load-sample``; another folder through the import commands. A
    held-out folder (``quiet``) that fails to load is reported by exit code only.
    """
    url = f"sqlite:///{db}"
    if folder == SAMPLE:
        steps = [["load-sample"]]
    else:
        steps = [["db", "upgrade"], ["catalog", "import", str(folder / "township_catalog.csv")]]
        steps[1] += ["--township", _township_name(folder)]
        if (folder / "interpretations").is_dir():
            steps.append(["interp", "import", str(folder / "interpretations")])
        if (folder / "villages.csv").exists():
            steps.append(["village", "import", str(folder / "villages.csv")])
            if (folder / "village_lists").is_dir():
                steps.append(["village", "import-list", "--dir", str(folder / "village_lists")])
    for step in steps:
        code, output = _run_cli(["--db", url, *step])
        if code != 0:
            raise SystemExit(f"cunwu {step[0]} failed (exit {code})" + ("" if quiet else f":\n{output}"))
    return url


def township_matcher(db: Path, folder: Path, *, quiet: bool = False) -> tuple[Matcher, list[Doc]]:
    """The matcher over one township, as the bot builds it, and the documents it holds."""
    from content.matcher.documents import load_documents
    from core.db import make_engine, make_sessionmaker
    from village_lists.documents import village_docs

    engine = make_engine(load_township(db, folder, quiet=quiet))
    with make_sessionmaker(engine)() as session:
        vdocs = village_docs(session)
        docs = load_documents(session)
        matcher = Matcher.from_session(session, vdocs)
    engine.dispose()
    return matcher, docs + vdocs


def sample_matcher(tmp: Path) -> tuple[Matcher, list[Doc]]:
    """The matcher over the sample township, loaded through the real CLI into a SQLite file."""
    return township_matcher(tmp / "sample.db", SAMPLE)


def sample_docs(tmp: Path) -> list[Doc]:
    """The sample township's documents (catalog, interpretations, village rows)."""
    return sample_matcher(tmp)[1]


def doc_text(doc: Doc) -> str:
    """A baseline's reply: its first document's text in reading order, cut at WeChat's length."""
    if doc.kind == KIND_INTERPRETATION:
        parts = [doc.title, doc.summary]
        parts += [f"{q}\n{a}" for q, a in zip(doc.questions, doc.answers, strict=False)]
    else:
        parts = [doc.title, "、".join(doc.elements), doc.time_limit, "；".join(doc.publishers)]
        parts += ["；".join(doc.channels), doc.audience]
        if doc.kind == KIND_VILLAGE:
            parts += [doc.last_disclosed, doc.responsible]
    return "\n".join(p for p in parts if p)[:MAX_CHARS]


class FuzzBaseline:
    def __init__(self, docs: list[Doc]) -> None:
        self.docs = docs

    def outcome(self, row: dict[str, Any]) -> Outcome:
        from rapidfuzz import fuzz, process

        village = row.get("village")
        pool = [d for d in self.docs if d.kind != KIND_VILLAGE or d.village == village]
        hits = process.extract(row["q"], [d.title for d in pool], scorer=fuzz.WRatio, limit=3)
        ids = tuple(pool[i].id for _, _, i in hits)
        reply = doc_text(pool[hits[0][2]]) if hits else ""
        return Outcome(bool(hits) and hits[0][1] >= 60, ids, reply)


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
            if d.kind == KIND_VILLAGE and d.village != village:
                scores[i] = 0.0
        order = np.argsort(-scores)[:3]
        ids = tuple(self.docs[i].id for i in order)
        return Outcome(bool(scores[order[0]] > 0), ids, doc_text(self.docs[order[0]]))


def stands_for(docs: list[Doc]) -> Callable[[Outcome], Outcome]:
    """An outcome whose village list rows also stand for the catalog items they disclose."""
    items = {d.id: d.items for d in docs if d.kind == KIND_VILLAGE}

    def add(out: Outcome) -> Outcome:
        return Outcome(out.answered, out.ids, out.reply, tuple(items.get(i, ()) for i in out.ids))

    return add


def matcher_outcome(matcher: Matcher, timings: list[float] | None = None) -> Callable[[dict[str, Any]], Outcome]:
    def ask(row: dict[str, Any]) -> Outcome:
        started = time.perf_counter()
        res = matcher.ask(row["q"], village=row.get("village"))
        if timings is not None:
            timings.append((time.perf_counter() - started) * 1000.0)
        return Outcome(res.answered, tuple(r.id for r in res.results), res.reply)

    return ask


def _then(
    ask: Callable[[dict[str, Any]], Outcome], add: Callable[[Outcome], Outcome]
) -> Callable[[dict[str, Any]], Outcome]:
    return lambda row: add(ask(row))


HEADER = (
    "| set / system                              |    n |  top-1 |  top-3 |    MRR | answer | abstain |"
    "  wrong | forb | leak |"
)


def fmt(name: str, m: Metrics) -> str:
    answer = f"{m.answer:6.3f}" if m.with_facts else "     -"
    return (
        f"| {name:<41} | {m.n:>4} | {m.top1:6.3f} | {m.top3:6.3f} | {m.mrr:6.3f} | {answer} | {m.abstain:7.3f} |"
        f" {m.wrong:6.3f} | {m.forbidden:>4} | {m.leaks:>4} |"
    )


def by_kind(rows: list[dict[str, Any]], ask: Callable[[dict[str, Any]], Outcome]) -> str:
    """One set's figures for each kind of question (off-topic: abstention), as one line."""
    parts = []
    for kind in sorted({str(r.get("kind", "")) for r in rows}):
        m = evaluate([r for r in rows if r.get("kind") == kind], ask)
        parts.append(f"{kind} {m.top1:.2f}" + (f"/{m.answer:.2f}" if m.with_facts else "") + f" ({m.n})")
    return ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--failures", action="store_true", help="list the questions the matcher gets wrong (tuned sets only)"
    )
    parser.add_argument("--only", help="only the sets whose name contains this")
    parser.add_argument("--tuned", action="store_true", help="only the tuned sets (no held-out set is run)")
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument(
        "--by-kind", action="store_true", help="cunwu's top-1 (and answer level) for each kind of question"
    )
    args = parser.parse_args()
    sets = [s for s in SETS if s.path.exists() and (not args.only or args.only in s.name)]
    if args.tuned:
        sets = [s for s in sets if not s.heldout]
    systems: dict[str, dict[str, Callable[[dict[str, Any]], Outcome]]] = {}
    timings: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for key in dict.fromkeys(s.township for s in sets):
            folder = TOWNSHIPS[key]
            heldout = HELDOUT in folder.parents
            matcher, docs = township_matcher(Path(tmp) / f"{key}.db", folder, quiet=heldout)
            systems[key] = {"cunwu": matcher_outcome(matcher, timings)}
            if not args.no_baselines:
                systems[key]["rapidfuzz WRatio"] = FuzzBaseline(docs).outcome
                systems[key]["jieba + rank_bm25"] = JiebaBm25Baseline(docs).outcome
            add = stands_for(docs)
            systems[key] = {name: _then(ask, add) for name, ask in systems[key].items()}
    print(HEADER)
    print("|---|---|---|---|---|---|---|---|---|---|")
    for qs in sets:
        rows = load_rows(qs.path)
        for sys_name, ask in systems[qs.township].items():
            m = evaluate(rows, ask)
            print(fmt(f"{qs.name}: {sys_name}", m))
            if args.by_kind and sys_name == "cunwu":  # (aggregates: shown for held-out sets too)
                print("    by kind, top-1/answer:", by_kind(rows, ask))
            if args.failures and sys_name == "cunwu" and not qs.heldout:
                for f in m.failures:
                    print("   ", f)
    print("answer = share of the rows with facts whose reply holds every fact (- : the set has no facts).")
    print("abstain = share of off-topic questions answered false (greetings, chit-chat, prices…).")
    if timings:
        ordered = sorted(timings)
        p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
        print(f"cunwu per question: median {statistics.median(ordered):.2f} ms, p90 {p90:.2f} ms ({len(ordered)} asks)")


if __name__ == "__main__":
    main()
