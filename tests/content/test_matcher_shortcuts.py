"""The matcher's shortcuts give exactly what the library calls they stand for.

Memoised pinyin, the t2s fast path, the one-search intent cues and the batched partial_ratio are
checked against the plain library calls on the question sets (and traditional versions of them).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import opencc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypinyin import Style, lazy_pinyin
from rapidfuzz import fuzz, process

from content.matcher.homophones import syllables
from content.matcher.normalize import _simplified, _t2s, normalize
from content.matcher.query import intents

REPO = Path(__file__).resolve().parents[2]
QUESTION_FILES = [
    REPO / "examples" / "qinghe" / "sample_questions.jsonl",
    REPO / "tests" / "data" / "dev_questions.jsonl",
    REPO / "tests" / "data" / "tune_questions.jsonl",
]


@pytest.fixture(scope="module")
def questions() -> list[str]:
    rows: list[str] = []
    for path in QUESTION_FILES:
        rows += [json.loads(line)["q"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


def test_syllables_are_lazy_pinyin(questions: list[str]) -> None:
    texts = {t for q in questions for t in (q, normalize(q), *re.findall(r"[\u4e00-\u9fff]+", normalize(q)))}
    for text in texts:
        assert syllables(text) == lazy_pinyin(text, style=Style.NORMAL, errors="ignore"), text


def test_simplified_is_t2s(questions: list[str]) -> None:
    s2t = opencc.OpenCC("s2t")
    for text in (*questions, *(s2t.convert(q) for q in questions[:200]), "有序", "沈默是金", "乾隆", ""):
        assert _simplified(text) == _t2s().convert(text), text


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="低保標準醫療救助有序沈默乾坤著作 ab1。，", max_size=20))
def test_simplified_is_t2s_on_tricky_text(text: str) -> None:
    assert _simplified(text) == _t2s().convert(text)


def test_intent_cues_found_by_one_search(questions: list[str]) -> None:
    table = intents()
    for q in questions:
        text = normalize(q)
        assert table.classify(text) == tuple(i for i in table.intents if any(c in text for c in i.cues)), q


def test_batched_partial_ratio_is_partial_ratio() -> None:
    """``rank`` scores all titles in one ``cdist`` call with the question first (partial_ratio is symmetric)."""
    rng = random.Random(7)
    alphabet = "低保申请办理流程医疗救助养老金补贴村 12ab"
    for _ in range(300):
        question = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        titles = ["".join(rng.choice(alphabet) for _ in range(rng.choice([len(question), rng.randint(0, 35)])))]
        titles += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 35))) for _ in range(20)]
        batched = process.cdist([question], titles, scorer=fuzz.partial_ratio, dtype=np.float64)[0].tolist()
        assert batched == [fuzz.partial_ratio(t, question) for t in titles]
