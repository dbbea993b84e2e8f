"""The question log: every question asked, for the staff report of what villagers could not find.

:class:`QuestionLogger` hands each entry to the :class:`~bot.writer.Writer` without waiting: the
entries of one pass go in one INSERT, so logging adds no database round trip to a villager's
reply. The report, :func:`questions_report`, is a plain query over a sync session.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, insert, select
from sqlalchemy.orm import Session

from bot.models import QuestionLog
from bot.writer import Writer
from content.matcher.results import AskResult
from core.db import utcnow

log = logging.getLogger(__name__)


class QuestionLogger:
    """Hands each entry to the writer as it is recorded: the entries of one pass go in one INSERT."""

    def __init__(self, writer: Writer, hasher: Callable[[str], str]) -> None:
        self.writer = writer
        self.hasher = hasher
        self._unwritten: set[asyncio.Future[None]] = set()

    def record(
        self,
        question: str,
        result: AskResult,
        latency_ms: float,
        *,
        village: str | None,
        openid: str = "",
        channel: str,
    ) -> None:
        """Log one answer; ``openid`` is kept only as its ``user_hash`` (:mod:`bot.privacy`)."""
        best = result.results[0] if result.results else None
        row = {
            "user_hash": self.hasher(openid)[:16],
            "channel": channel[:12],
            "village": village,
            "question": question[:2000],
            "normalized": str(result.normalized or "")[:2000],
            "answered": bool(result.answered),
            "top_id": best.id[:64] if best else "",
            "top_kind": best.kind[:16] if best else "",
            "latency_ms": round(float(latency_ms), 3),
            "created_at": utcnow(),
        }
        written = self.writer.submit_batch(_insert, row)
        self._unwritten.add(written)
        written.add_done_callback(self._written)

    def _written(self, written: asyncio.Future[None]) -> None:
        self._unwritten.discard(written)
        if not written.cancelled() and written.exception() is not None:
            log.warning("question log: an entry could not be written (%s)", type(written.exception()).__name__)

    @property
    def pending(self) -> int:
        """Entries recorded and not written yet."""
        return len(self._unwritten)

    async def flush(self) -> None:
        """Wait until the entries recorded so far are written (or failed)."""
        if self._unwritten:
            await asyncio.wait(set(self._unwritten))


def _insert(conn: Connection, rows: list[dict[str, Any]]) -> list[None]:
    conn.execute(insert(cast(Table, QuestionLog.__table__)), rows)
    return [None] * len(rows)


@dataclass(frozen=True)
class QuestionStat:
    """One normalised question in the report."""

    normalized: str
    example: str
    asked: int
    unanswered: int
    askers: int
    villages: list[str]
    last_asked: dt.datetime
    top_id: str

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "last_asked": self.last_asked.isoformat()}


def questions_report(
    session: Session,
    since: dt.datetime | None = None,
    unanswered_only: bool = False,
    *,
    limit: int | None = None,
    channel: str | None = "wechat",
) -> list[QuestionStat]:
    """Questions grouped by their normalised form; most frequent unanswered first, then most asked.
    ``channel``: villagers' (``wechat``, the default), the JSON API's (``api``), or ``None`` for all."""
    stmt = select(QuestionLog)
    if channel is not None:
        stmt = stmt.where(QuestionLog.channel == channel)
    if since is not None:
        stmt = stmt.where(QuestionLog.created_at >= since)
    if unanswered_only:
        stmt = stmt.where(QuestionLog.answered.is_(False))
    groups: dict[str, list[QuestionLog]] = {}
    for row in session.scalars(stmt.order_by(QuestionLog.created_at, QuestionLog.id)):
        key = row.normalized or row.question
        groups.setdefault(key, []).append(row)
    stats = [_stat(key, rows) for key, rows in groups.items()]
    stats.sort(key=lambda s: (-s.unanswered, -s.asked, -s.last_asked.timestamp(), s.normalized))
    return stats[:limit] if limit else stats


def _stat(key: str, rows: Sequence[QuestionLog]) -> QuestionStat:
    tops = Counter(r.top_id for r in rows if r.top_id).most_common(1)
    return QuestionStat(
        normalized=key,
        example=Counter(r.question for r in rows).most_common(1)[0][0],
        asked=len(rows),
        unanswered=sum(1 for r in rows if not r.answered),
        askers=len({r.user_hash for r in rows if r.user_hash}),
        villages=sorted({r.village for r in rows if r.village}),
        last_asked=max(r.created_at for r in rows),
        top_id=tops[0][0] if tops else "",
    )
