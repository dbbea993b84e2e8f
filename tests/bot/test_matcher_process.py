"""The matcher in a worker process: same answers as in-process, replaced when it dies, and the bot's default."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.matcher_process import MatcherWorkerError, ProcessMatcher, ProcessMatcherFactory
from bot.matching import MatcherHolder, default_matcher_factory
from core.db import make_engine, make_sessionmaker
from tests.bot.conftest import BotFactory

QUESTIONS = ["低保怎么申请", "耕地地力保护补贴什么时候发", "医保怎么交", "今天天气怎么样", "村里的账目在哪里看"]


@pytest.fixture(scope="module")
def worker(sample_db: str) -> Iterator[ProcessMatcher]:
    """Two workers over the sample, built once for the module (tests that break workers make their own)."""
    matcher = ProcessMatcherFactory(sample_db, workers=2)(None)
    yield matcher
    matcher.close()


def test_the_worker_answers_as_the_matcher_in_this_process(sample_db: str, worker: ProcessMatcher) -> None:
    engine = make_engine(sample_db)
    try:
        with make_sessionmaker(engine)() as session:
            local = default_matcher_factory(session)
    finally:
        engine.dispose()
    for question in QUESTIONS:
        for village in (None, "QH01"):
            theirs, ours = worker.ask(question, village), local.ask(question, village=village)
            # (scores may differ in the last bit: numpy's sums depend on memory alignment)
            assert {**theirs.to_dict(), "ms": 0} == {**ours.to_dict(), "ms": 0}
            assert theirs.normalized == ours.normalized
    assert len(worker.pids) == 2 and os.getpid() not in worker.pids


def test_a_dead_worker_is_replaced_on_the_next_question(sample_db: str) -> None:
    worker = ProcessMatcherFactory(sample_db, workers=2)(None)
    before = worker.ask("低保怎么申请")
    pids = worker.pids
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    again = [worker.ask("低保怎么申请") for _ in range(2)]
    assert all(a.results == before.results for a in again) and worker.restarts == 2
    assert not set(worker.pids) & set(pids)
    worker.close()
    assert worker.pids == []
    with pytest.raises(MatcherWorkerError):
        worker.ask("低保怎么申请")


def test_workers_answer_side_by_side(worker: ProcessMatcher) -> None:
    """Four threads asking at once share the two workers; every answer is the one a lone ask gets."""
    from concurrent.futures import ThreadPoolExecutor

    alone = {q: worker.ask(q).to_dict()["results"] for q in QUESTIONS}
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(worker.ask, QUESTIONS * 4))
    assert [a.to_dict()["results"] for a in answers] == [alone[q] for q in QUESTIONS * 4]
    assert worker.restarts == 0 and len(worker.pids) == 2


def test_a_worker_that_cannot_build_says_why(tmp_path: Path) -> None:
    factory = ProcessMatcherFactory(f"sqlite:///{tmp_path / 'empty.db'}")  # no tables at all
    with pytest.raises(MatcherWorkerError, match="could not build its index"):
        factory(None)
    with pytest.raises((ValueError, ModuleNotFoundError, AttributeError)):
        ProcessMatcherFactory("sqlite://", "bot.matching:no_such_factory")


def test_the_holder_shares_answers_of_normalised_questions_from_the_worker(sample_db: str) -> None:
    engine = make_engine(sample_db)
    holder = MatcherHolder(ProcessMatcherFactory(sample_db), make_sessionmaker(engine))
    try:
        holder.build()
        first = holder.ask("低保怎么申请？")
        assert holder.ask("低保怎么申请!!") is first  # matched once: same normalised question
        old = holder.current
        assert isinstance(old, ProcessMatcher) and len(old.pids) == 1
        old_pids = old.pids
        holder.build()  # a rebuild starts a new worker and stops the old one
        assert isinstance(holder.current, ProcessMatcher) and holder.current.pids != old_pids
        assert old.pids == []
    finally:
        holder.close()
        engine.dispose()


async def test_the_bot_matches_in_a_worker_process_by_default(make_bot: BotFactory, sample_db: str) -> None:
    app, wx = await make_bot(sample_db)  # no matcher given: the default, CUNWU_MATCHER_PROCESSES=2
    from bot.app import MATCHER

    holder: Any = app[MATCHER]
    assert isinstance(holder.current, ProcessMatcher) and holder.current.size == 2
    reply = await wx.text("oProcessTest0001", "低保怎么申请")
    assert reply.content is not None and "最低生活保障" in reply.content
    api = await wx.client.get("/api/ask", params={"q": "耕地地力保护补贴什么时候发"})
    body = await api.json()
    assert api.status == 200 and body["results"]
    health = await (await wx.client.get("/healthz")).json()
    assert health["matcher"]["workers"] == 2 and health["matcher"]["worker_restarts"] == 0


def test_the_server_process_imports_none_of_the_matchers_modules(sample_db: str) -> None:
    """Only the workers load the index's libraries; the server reads their answers with the standard library."""
    script = f"""
import sys
from bot.matcher_process import ProcessMatcherFactory

if __name__ == "__main__":
    matcher = ProcessMatcherFactory({sample_db!r})(None)
    answer = matcher.ask("低保怎么申请")
    matcher.close()
    heavy = sorted(m for m in ("numpy", "bm25s", "jieba", "pypinyin", "rapidfuzz") if m in sys.modules)
    print(type(answer).__module__, answer.answered, heavy)
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2]
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["content.matcher.results", "True", "[]"]
