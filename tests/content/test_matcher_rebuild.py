"""A matcher built twice in one process answers exactly as the first one did.

Each analyser cuts words with its own jieba tokenizer copied from a pristine base, so the words one
build adds (lexicon, keywords, the catalog's vocabulary) never leak into another build's dictionary.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from admin_cli.main import cli
from content.matcher.evaluation import load_rows
from content.matcher.query import base_tokenizer
from content.matcher.service import Matcher
from core.db import make_engine, make_sessionmaker
from village_lists.documents import village_docs

REPO = Path(__file__).resolve().parents[2]
SETS = [
    REPO / "examples" / "qinghe" / "sample_questions.jsonl",
    REPO / "tests" / "data" / "dev_questions.jsonl",
    REPO / "tests" / "data" / "tune_questions.jsonl",
    REPO / "tests" / "data" / "facts_tune.jsonl",
]


def _answers(matcher: Matcher, rows: list[dict]) -> list[tuple]:  # type: ignore[type-arg]
    out = []
    for row in rows:
        res = matcher.ask(row["q"], village=row.get("village"))
        out.append((row["q"], res.answered, res.reply, tuple((r.id, round(r.score, 9)) for r in res.results)))
    return out


def test_second_build_answers_like_the_first(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cunwu.db'}"
    result = CliRunner().invoke(cli, ["--db", url, "load-sample"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = [row for path in SETS if path.exists() for row in load_rows(path)]
    assert len(rows) > 600
    base_words = len(base_tokenizer().FREQ)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        vdocs = village_docs(session)
        first = Matcher.from_session(session, vdocs)
        before = _answers(first, rows)
        second = Matcher.from_session(session, vdocs)
    engine.dispose()
    assert len(base_tokenizer().FREQ) == base_words  # the shared base is never written to
    assert second.analyzer.tokenizer is not first.analyzer.tokenizer
    assert _answers(second, rows) == before
    assert _answers(first, rows) == before  # the first build is not changed by the second


@pytest.mark.parametrize("word", ["高龄津贴", "耕地地力保护补贴"])
def test_added_words_stay_in_their_own_tokenizer(word: str) -> None:
    from content.matcher.documents import KIND_CATALOG, Doc

    doc = Doc(kind=KIND_CATALOG, id="01-001", title=word, township="甲镇")
    matcher = Matcher.build([doc])
    assert matcher.analyzer.tokenizer.FREQ.get(word, 0) > 0
    assert base_tokenizer().FREQ.get(word, 0) == 0
