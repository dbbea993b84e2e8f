"""Quality figures of a matcher over a question set (JSONL rows of {"q","village","expect","forbid","kind"},
optionally "facts" and "secret").

Document level: top-1 is correct when the bot answers and its first result is in ``expect``, or, for
``expect: []``, when it abstains (answered false). top-3 and MRR look at the first three results. A
result may stand for other documents too (a village's list row for the catalog item it discloses):
it is in ``expect`` when one of them is.
Answer level: a row with ``facts`` passes when the bot answers and its reply holds every fact string
(compared with all whitespace removed from both), whatever document it came from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ABSTAIN_KINDS = ("offtopic",)


@dataclass(frozen=True)
class Outcome:
    """What a matcher (or a baseline) said about one question."""

    answered: bool
    ids: tuple[str, ...]
    reply: str = ""
    stands_for: tuple[tuple[str, ...], ...] = ()  # per result, the documents it also stands for


@dataclass
class Metrics:
    n: int = 0
    top1: float = 0.0
    top3: float = 0.0
    mrr: float = 0.0
    abstain: float = 0.0  # share of off-topic questions answered false
    wrong: float = 0.0  # share of all questions answered with a wrong first result
    forbidden: int = 0  # results from forbidden documents (non-public, abolished where forbidden)
    leaks: int = 0  # replies containing a secret
    answer: float = 0.0  # share of the rows with facts whose reply holds every fact
    with_facts: int = 0  # rows with facts
    failures: list[dict[str, Any]] = field(default_factory=list)


_SPACE = re.compile(r"\s+")


def holds_facts(reply: str, facts: Iterable[str]) -> bool:
    """Every fact string is in the reply, whitespace removed from both."""
    text = _SPACE.sub("", reply)
    return all(_SPACE.sub("", f) in text for f in facts)


def load_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _with_others(out: Outcome) -> list[tuple[str, tuple[str, ...]]]:
    """Each result with the documents it also stands for."""
    others = list(out.stands_for) + [()] * (len(out.ids) - len(out.stands_for))
    return list(zip(out.ids, others, strict=False))


def evaluate(rows: Iterable[dict[str, Any]], ask: Callable[[dict[str, Any]], Outcome]) -> Metrics:
    m = Metrics()
    top1 = top3 = rr = 0.0
    off = off_ok = wrong = facts_ok = 0
    for row in rows:
        m.n += 1
        out = ask(row)
        expect = list(row.get("expect") or [])
        forbid = set(row.get("forbid") or [])
        ids = list(out.ids)
        hits = [i in expect or any(o in expect for o in others) for i, others in _with_others(out)]
        if not expect:
            ok1 = ok3 = not out.answered
            r = 1.0 if ok1 else 0.0
        else:
            ok1 = out.answered and bool(ids) and hits[0]
            ranks = [n for n, hit in enumerate(hits[:3]) if hit]
            ok3 = out.answered and bool(ranks)
            r = 1.0 / (ranks[0] + 1) if ok3 else 0.0
        if row.get("kind") in ABSTAIN_KINDS:
            off += 1
            off_ok += 0 if out.answered else 1
        if out.answered and not ok1:
            wrong += 1
        m.forbidden += len(forbid & set(ids))
        secret = row.get("secret")
        if secret and secret in out.reply:
            m.leaks += 1
        facts = list(row.get("facts") or [])
        fact_ok = True
        if facts:
            m.with_facts += 1
            fact_ok = out.answered and holds_facts(out.reply, facts)
            facts_ok += fact_ok
        top1 += ok1
        top3 += ok3
        rr += r
        if not ok1 or not fact_ok:
            failure = {"q": row["q"], "kind": row.get("kind"), "expect": expect, "got": ids[:3]}
            failure["answered"] = out.answered
            if not fact_ok:
                failure["facts"] = facts
                failure["reply"] = out.reply
            m.failures.append(failure)
    if m.n:
        m.top1, m.top3, m.mrr, m.wrong = top1 / m.n, top3 / m.n, rr / m.n, wrong / m.n
    m.abstain = off_ok / off if off else 1.0
    m.answer = facts_ok / m.with_facts if m.with_facts else 0.0
    return m
