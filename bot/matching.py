"""The bot's handle on the question matcher: built off the event loop, refreshed when content changes.

:meth:`MatcherHolder.ask_async` is what the service calls: a cached answer comes back on the
event loop; otherwise the question goes to the matcher's own thread (one for a matcher in this
process: matching is CPU-bound Python, so more threads would only take the GIL from each other and
from the event loop; one per worker for :mod:`bot.matcher_process`), and the same question asked
again while it is being matched (a notice went out, many villagers ask at once) waits for that
answer instead of matching it again.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from cachetools import LRUCache
from sqlalchemy.orm import Session, sessionmaker

from content.matcher.results import AskResult
from content.repository import content_revision
from core.errors import AppError

log = logging.getLogger(__name__)


class QuestionMatcher(Protocol):
    """What the holder asks: the real :class:`~content.matcher.service.Matcher`, a
    :class:`~bot.matcher_process.ProcessMatcher` (the same, in worker processes), or a test's stand-in."""

    def ask(self, question: str, village: str | None = None, *, top: int = 3) -> AskResult: ...


Key = tuple[str, str | None, int]
"""An answer's cache key: the question (as typed, or normalised), the village and ``top``."""
MatcherFactory = Callable[[Session], QuestionMatcher]
"""Builds a matcher from a (sync) session: ``Matcher.from_session`` by default."""


class MatcherNotReady(AppError):
    """The matcher has not been built yet (start-up, or its build failed)."""

    def __init__(self) -> None:
        super().__init__("问答资料正在加载，请稍后再试")


def default_matcher_factory(session: Session) -> QuestionMatcher:
    """The real matcher over the catalog, the interpretations and every village's list."""
    from content.matcher.service import Matcher
    from village_lists.documents import village_docs

    return Matcher.from_session(session, village_docs(session))


class MatcherHolder:
    """The current matcher; ``build`` and ``refresh`` are blocking (call them in a thread).

    Content writes bump ``content_revision`` (catalog, interpretations and village lists alike);
    :meth:`refresh` reads that one counter and rebuilds only when it moved. A rebuilt matcher
    replaces the old one in a single assignment: questions in flight finish on the old index.

    Answers are cached (LRU, ``cache_size`` entries) under two keys: the question as typed
    (:meth:`cached` reads it without a thread hop, on the event loop), and the normalised question
    with the village, so ``低保怎么申请？`` and ``低保 怎么申请`` are matched once; only for a matcher that
    says its answers depend on nothing else (``answers_by_normalized_question``: the real one, in this
    process or in workers; a stand-in may answer the raw text). The matcher's threads and the event
    loop share the caches, under a lock.
    """

    def __init__(
        self, factory: MatcherFactory, session_factory: sessionmaker[Session], *, cache_size: int = 2048
    ) -> None:
        self.factory = factory
        self.session_factory = session_factory
        self.cache_size = cache_size
        self._cache: LRUCache[Key, AskResult] = LRUCache(max(cache_size, 1))
        self._normalized: LRUCache[Key, AskResult] = LRUCache(max(cache_size, 1))
        self._normalize: Callable[[str], str] | None = None
        self._cache_lock = threading.Lock()
        self.cache_hits = 0
        self.current: QuestionMatcher | None = None
        self.revision: int | None = None
        self.builds = 0
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._in_flight: dict[Key, asyncio.Future[AskResult]] = {}
        self.shared_asks = 0

    @property
    def ready(self) -> bool:
        return self.current is not None

    def build(self) -> QuestionMatcher:
        from content.matcher.normalize import normalize  # (here: a slow import, for the server only)

        with self._lock, self.session_factory() as session:
            revision = content_revision(session)
            matcher = self.factory(session)
            # answers of the old content are stale: new caches, swapped in with the matcher
            self._cache, self._normalized = LRUCache(max(self.cache_size, 1)), LRUCache(max(self.cache_size, 1))
            self._normalize = normalize if getattr(matcher, "answers_by_normalized_question", False) else None
            old, self.current, self.revision = self.current, matcher, revision
            self.builds += 1
        _close(old)  # a worker process finishes the questions it has, then stops
        return matcher

    def refresh(self) -> bool:
        """Rebuild when the content revision moved (or nothing is built yet); True when rebuilt."""
        if self.current is not None:
            with self.session_factory() as session:
                if content_revision(session) == self.revision:
                    return False
        self.build()
        return True

    def cached(self, question: str, village: str | None = None, top: int = 3) -> AskResult | None:
        """The cached answer to exactly this question, or ``None``: cheap, safe on the event loop."""
        if self.cache_size <= 0 or self.current is None:
            return None
        with self._cache_lock:
            result = self._cache.get((question.strip(), village, top))
        if result is not None:
            self.cache_hits += 1
        return result

    def ask(self, question: str, village: str | None = None, top: int = 3) -> AskResult:
        """The matcher's answer; repeated questions (same text — or same normalised text — village
        and content) come from the caches, emptied whenever the matcher is rebuilt."""
        matcher = self.current
        if matcher is None:
            raise MatcherNotReady()
        if self.cache_size <= 0:
            return matcher.ask(question, village=village, top=top)
        cache, normalized, normalize = self._cache, self._normalized, self._normalize  # (one build's)
        key = (question.strip(), village, top)
        nkey = (normalize(question), village, top) if normalize is not None else key
        with self._cache_lock:
            result = cache.get(key) or normalized.get(nkey)
        if result is not None:
            self.cache_hits += 1
        else:
            result = matcher.ask(question, village=village, top=top)
        if self.current is matcher:  # not rebuilt meanwhile
            with self._cache_lock:
                cache[key] = normalized[nkey] = result
        return result

    async def ask_async(self, question: str, village: str | None = None, top: int = 3) -> AskResult:
        """:meth:`ask` for the event loop: cached answers at once, the rest in the matcher's thread,
        concurrent asks of the same question sharing one computation."""
        hit = self.cached(question, village, top)
        if hit is not None:
            return hit
        if self.current is None:
            raise MatcherNotReady()
        key = (question.strip(), village, top)
        pending = self._in_flight.get(key)
        if pending is not None:
            self.shared_asks += 1
            return await asyncio.shield(pending)
        loop = asyncio.get_running_loop()
        if self._executor is None:  # a thread per worker process (one in this process: the GIL)
            threads = max(1, int(getattr(self.current, "size", 1)))
            self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="cunwu-matcher")
        future = asyncio.ensure_future(loop.run_in_executor(self._executor, self.ask, question, village, top))
        self._in_flight[key] = future
        future.add_done_callback(lambda _: self._in_flight.pop(key, None))
        return await asyncio.shield(future)

    def close(self) -> None:
        """Stop the matcher's thread (questions being matched finish first) and its worker process."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        _close(self.current)


def _close(matcher: object) -> None:
    close = getattr(matcher, "close", None)
    if callable(close):
        try:
            close()
        except Exception:
            log.warning("closing the old matcher failed", exc_info=True)
