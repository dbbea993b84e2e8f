"""Matching in a worker process, so a question being matched never holds the server's GIL.

The matcher is CPU-bound Python. Run in a thread of the server process, every question it matches
takes the GIL from the event loop (and the event loop from it), so the replies waiting on the
database or the network stall meanwhile and the process never uses more than one core. Here the
index lives in one worker process of its own (``spawn``: a clean interpreter, no inherited threads
or locks): the server keeps only its answer cache, sends the worker a question over a pipe and waits
for the :class:`~content.matcher.results.AskResult` without holding the GIL (one pickled tuple each
way; no executor threads in between). Reading the answer imports only :mod:`content.matcher.results`,
none of the matcher's own modules.

:class:`ProcessMatcherFactory` is a :data:`~bot.matching.MatcherFactory`: :class:`MatcherHolder`
calls it to build, and to rebuild when the content changed. Each build starts a new worker, waits
until it has built its index from the database, and only then replaces the old worker (which
finishes the question it has and exits), so questions are answered throughout a rebuild. A worker
that dies or hangs is replaced on the next question (which waits for the new index).

Like every ``spawn`` child, the worker imports the server's main module again: a script that
serves the bot must keep its start-up under ``if __name__ == "__main__":`` (``cunwu`` does).

The factory the worker builds with is named by ``"module:function"`` (it is imported there, not
pickled); it takes a :class:`~sqlalchemy.orm.Session` and keyword arguments, like
:func:`bot.matching.default_matcher_factory`.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing
import queue
import signal
import threading
from collections.abc import Mapping
from multiprocessing.connection import Connection
from typing import Any

from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

DEFAULT_FACTORY = "bot.matching:default_matcher_factory"
ASK_TIMEOUT = 120.0
"""Seconds a question may take in the worker before the worker is replaced."""
BUILD_TIMEOUT = 1800.0
"""Seconds a worker may take to build its index (a county's 100k items take well under a minute)."""


def _resolve(spec: str) -> Any:
    module, _, name = spec.partition(":")
    if not module or not name:
        raise ValueError(f"matcher factory must be 'module:function', not {spec!r}")
    return getattr(importlib.import_module(module), name)


def _worker_main(conn: Connection, database_url: str, factory: str, kwargs: Mapping[str, Any]) -> None:
    """The worker: build the matcher (its own engine, closed again: asking needs no database), say
    ``ready``, then answer ``(question, village, township, top)`` until the pipe closes or ``None``."""
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
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):  # the server is gone
            return
        if request is None:
            return
        try:
            conn.send(("ok", matcher.ask(*request)))
        except Exception as exc:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class MatcherWorkerError(RuntimeError):
    """The worker could not build its index, or failed on a question."""


class _Worker:
    """One worker process and our end of its pipe."""

    def __init__(self, factory: ProcessMatcherFactory) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_worker_main,
            args=(child, factory.database_url, factory.factory, factory.kwargs),
            name="cunwu-matcher",
            daemon=True,
        )
        self.process.start()
        child.close()

    def wait_ready(self) -> None:
        """Wait until the worker has built its index (raises, and stops it, when it could not)."""
        try:
            status, detail = self._receive(BUILD_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        if status != "ready":
            self.stop()
            raise MatcherWorkerError(f"the matcher worker could not build its index: {detail}")

    def _receive(self, timeout: float) -> tuple[str, Any]:
        if not self.conn.poll(timeout):
            raise TimeoutError(f"the matcher worker did not answer within {timeout:.0f} s")
        message: tuple[str, Any] = self.conn.recv()
        return message

    def ask(self, question: str, village: str | None, top: int) -> Any:
        self.conn.send((question, village, None, top))
        status, value = self._receive(ASK_TIMEOUT)
        if status != "ok":
            raise MatcherWorkerError(value)
        return value

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
            self.conn.close()
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)


class ProcessMatcher:
    """A matcher whose index lives in ``size`` worker processes; :meth:`ask` blocks (call it from up to
    ``size`` threads at once: each question takes an idle worker, or waits for one)."""

    answers_by_normalized_question = True
    """Its answers depend only on the normalised question (it is the real matcher, elsewhere)."""

    def __init__(self, factory: ProcessMatcherFactory, size: int = 1) -> None:
        self._factory = factory
        self.size = max(1, size)
        self._closed = False
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._workers = _start(factory, self.size)  # built side by side
        for worker in self._workers:
            self._idle.put(worker)
        self.restarts = 0

    def ask(self, question: str, village: str | None = None, township: str | None = None, top: int = 3) -> Any:
        if township is not None:
            raise ValueError("the bot's matcher is asked by village, not township")
        worker = self._idle.get()  # once closed, the (stopped) workers are back in the queue
        try:
            if self._closed:
                raise MatcherWorkerError("the matcher workers are closed")
            try:
                return worker.ask(question, village, top)
            except (EOFError, OSError, TimeoutError):
                if self._closed:
                    raise MatcherWorkerError("the matcher workers are closed") from None
                log.warning("a matcher worker died or hung; starting a new one", exc_info=True)
                worker = self._replace(worker)
                return worker.ask(question, village, top)
        finally:
            self._idle.put(worker)

    def _replace(self, old: _Worker) -> _Worker:
        old.stop()
        new = _start(self._factory, 1)[0]
        with self._lock:  # two threads may each be replacing a worker
            self._workers = [new if w is old else w for w in self._workers]
            self.restarts += 1
        return new

    def close(self) -> None:
        """Stop the workers once the questions they are matching are answered."""
        if self._closed:
            return
        self._closed = True
        taken = []  # every worker, as its question is answered (a hung one is stopped regardless)
        for _ in range(self.size):
            try:
                taken.append(self._idle.get(timeout=ASK_TIMEOUT))
            except queue.Empty:
                break
        for worker in self._workers:
            worker.stop()
        for worker in taken:  # back, stopped: a question still waiting for one wakes up and is refused
            self._idle.put(worker)

    @property
    def pids(self) -> list[int]:
        """The workers' process ids (empty once closed)."""
        return [] if self._closed else [w.process.pid for w in self._workers if w.process.pid is not None]


def _start(factory: ProcessMatcherFactory, count: int) -> list[_Worker]:
    workers = [_Worker(factory) for _ in range(count)]
    try:
        for worker in workers:
            worker.wait_ready()
    except BaseException:
        for worker in workers:
            worker.stop()
        raise
    return workers


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

    def __call__(self, _session: Session) -> ProcessMatcher:
        return ProcessMatcher(self, self.workers)
