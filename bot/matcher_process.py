"""Matching in worker processes, so a question being matched never holds the server's GIL.

The matcher is CPU-bound Python. :class:`ProcessMatcher` keeps its index in the workers of a
:class:`~concurrent.futures.ProcessPoolExecutor`:

1. ``spawn`` context: each worker is a clean interpreter (no inherited threads or locks); like every
   ``spawn`` child it imports the server's main module again, so a script that serves the bot keeps
   its start-up under ``if __name__ == "__main__":`` (``cunwu`` does);
2. the pool's initializer builds the index from the database (the worker's own engine, disposed
   once built: asking needs no database) and asks one question to load what the first would;
3. a build is ready when the workers answer :func:`_ready`; one that could not build says why
   (:class:`MatcherWorkerError`);
4. a question is one pickled call each way; the answer is an :class:`~content.matcher.results.AskResult`,
   whose module needs only the standard library, so the server imports none of the matcher's modules;
5. when a worker dies the pool breaks: a new pool is started and the question asked again once;
6. when the content changes, :class:`~bot.matching.MatcherHolder` builds a new :class:`ProcessMatcher`
   (a new pool) and closes the old one once its questions are answered.

The factory a worker builds with is named by ``"module:function"`` (imported there, not pickled); it
takes a :class:`~sqlalchemy.orm.Session` and keyword arguments, like
:func:`bot.matching.default_matcher_factory`.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import signal
import threading
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from sqlalchemy.orm import Session

from content.matcher.results import AskResult
from core.errors import AppError

log = logging.getLogger(__name__)

DEFAULT_FACTORY = "bot.matching:default_matcher_factory"
ASK_TIMEOUT = 120.0
"""Seconds a question may take in a worker before the pool is replaced."""
BUILD_TIMEOUT = 1800.0
"""Seconds a worker may take to build its index (a county's 100k items take well under a minute)."""


class MatcherWorkerError(AppError):
    """A matcher worker could not build its index, or failed on a question."""

    def __init__(self, detail: str) -> None:
        super().__init__("问答资料加载失败", detail=detail)

    def __str__(self) -> str:
        return f"{self.message}: {self.detail}"


def _resolve(spec: str) -> Any:
    module, _, name = spec.partition(":")
    if not module or not name:
        raise ValueError(f"matcher factory must be 'module:function', not {spec!r}")
    return getattr(importlib.import_module(module), name)


# -- in the worker ---------------------------------------------------------------------------

_matcher: Any = None
_error = ""


def _init(database_url: str, factory: str, kwargs: Mapping[str, Any]) -> None:
    """Step 2: build this worker's index (a failure is kept for :func:`_ready` to report)."""
    global _matcher, _error
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the server stops us
    from core.db import make_engine, make_sessionmaker

    try:
        engine = make_engine(database_url)
        try:
            with make_sessionmaker(engine)() as session:
                matcher = _resolve(factory)(session, **kwargs)
        finally:
            engine.dispose()
        matcher.ask("低保怎么申请")  # loads what the first question would (jieba's dictionary …)
        _matcher = matcher
    except Exception as exc:
        _error = f"{type(exc).__name__}: {exc}"


def _ready() -> str:
    return _error


def _ask(question: str, village: str | None, top: int) -> AskResult:
    if _matcher is None:
        raise RuntimeError(_error or "no index")
    result: AskResult = _matcher.ask(question, village=village, top=top)
    return result


# -- in the server ---------------------------------------------------------------------------


class ProcessMatcher:
    """A matcher whose index lives in ``size`` worker processes; :meth:`ask` blocks (call it from a thread)."""

    answers_by_normalized_question = True
    """Its answers depend only on the normalised question (it is the real matcher, elsewhere)."""

    def __init__(self, factory: ProcessMatcherFactory, size: int = 1) -> None:
        self._factory = factory
        self.size = max(1, size)
        self._closed = False
        self._lock = threading.Lock()
        self.restarts = 0
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        """Steps 1–3: a pool whose workers have built their index."""
        f = self._factory
        pool = ProcessPoolExecutor(
            self.size,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init,
            initargs=(f.database_url, f.factory, f.kwargs),
        )
        try:
            for future in [pool.submit(_ready) for _ in range(self.size)]:
                error = future.result(BUILD_TIMEOUT)
                if error:
                    raise MatcherWorkerError(f"the matcher worker could not build its index: {error}")
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        return pool

    def ask(self, question: str, village: str | None = None, *, top: int = 3) -> AskResult:
        """Step 4, and step 5 when a worker died."""
        pool = self._pool
        try:
            return self._submit(pool, question, village, top)
        except (BrokenProcessPool, TimeoutError):
            if self._closed:
                raise MatcherWorkerError("the matcher workers are closed") from None
            log.warning("a matcher worker died or hung; starting new workers", exc_info=True)
            return self._submit(self._replace(pool), question, village, top)

    def _submit(self, pool: ProcessPoolExecutor, question: str, village: str | None, top: int) -> AskResult:
        if self._closed:
            raise MatcherWorkerError("the matcher workers are closed")
        try:
            return pool.submit(_ask, question, village, top).result(ASK_TIMEOUT)
        except BrokenProcessPool:
            raise  # step 5
        except RuntimeError as exc:  # the worker's own error, or the pool was shut down meanwhile
            raise MatcherWorkerError("the matcher workers are closed" if self._closed else str(exc)) from None

    def _replace(self, broken: ProcessPoolExecutor) -> ProcessPoolExecutor:
        with self._lock:  # several threads may find the pool broken at once: one replaces it
            if self._pool is broken:
                _kill(broken)
                self._pool = self._start()
                self.restarts += self.size  # every worker of a broken pool is replaced
            return self._pool

    def close(self) -> None:
        """Stop the workers once the questions they are matching are answered."""
        if not self._closed:
            self._closed = True
            self._pool.shutdown(wait=True, cancel_futures=True)

    @property
    def pids(self) -> list[int]:
        """The workers' process ids (empty once closed)."""
        return [] if self._closed else sorted(self._pool._processes or {})  # (the executor's table of its workers)


def _kill(pool: ProcessPoolExecutor) -> None:
    """Stop a broken or hung pool at once (its questions are asked again elsewhere)."""
    for process in list((pool._processes or {}).values()):
        process.kill()  # (SIGKILL; nothing when it is dead already)
    pool.shutdown(wait=False, cancel_futures=True)


class ProcessMatcherFactory:
    """Builds :class:`ProcessMatcher` s over ``database_url`` with the factory ``factory`` names."""

    def __init__(
        self,
        database_url: str,
        factory: str = DEFAULT_FACTORY,
        kwargs: Mapping[str, Any] | None = None,
        *,
        workers: int = 1,
    ) -> None:
        _resolve(factory)  # fail here, at start-up, on a misspelt name
        self.database_url = database_url
        self.factory = factory
        self.kwargs = dict(kwargs or {})
        self.workers = workers

    def __call__(self, _session: Session | None) -> ProcessMatcher:
        return ProcessMatcher(self, self.workers)
