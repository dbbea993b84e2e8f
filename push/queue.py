"""How the delivery queue talks to the database: enqueue, claim with a lease, finish, recover, rate and quota.

- Enqueue inserts rows under the unique key (notice, channel, target, slot) and ignores conflicts, so a
  timer that fires twice, or two schedulers, enqueue each delivery once.
- Claim is one statement: ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`` on
  PostgreSQL; on SQLite (which has no SKIP LOCKED, and SQLAlchemy silently drops it) the same single
  ``UPDATE … RETURNING`` is atomic because SQLite runs one writer at a time. Urgent rows come first.
- Finishing a row checks that the worker still holds it (``state='sending' AND worker=…``).
- A row whose lease expired while ``sending`` was in flight when its worker died: on channels that cannot be
  deduplicated (robots, templates) it becomes ``uncertain``; otherwise it goes back to ``pending``.
- Rate limits are pacing counters in ``push_rate_limits`` (the next free send time per key), shared by every
  worker process; quotas are counters in ``push_quota_counters`` taken before the platform is called.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, and_, case, func, select, update
from sqlalchemy.orm import Session

from core.db import insert_ignore
from push.delivery import UNDEDUPLICABLE, Claimed
from push.models import Delivery, QuotaCounter, RateLimit

_CLAIM_COLUMNS = (
    Delivery.id,
    Delivery.notice_id,
    Delivery.channel,
    Delivery.target,
    Delivery.slot,
    Delivery.kind,
    Delivery.attempts,
    Delivery.parts_sent,
    Delivery.late,
    Delivery.priority,
)


def enqueue(
    session: Session,
    rows: Sequence[Mapping[str, Any]],
    batch: int = 1000,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Insert delivery rows, skipping any whose key exists; returns how many were new.

    ``progress(done, total)`` is called after each batch (the CLI shows a bar for a large fan-out).
    """
    added = 0
    for start in range(0, len(rows), batch):
        chunk = [dict(r) for r in rows[start : start + batch]]
        result = session.execute(insert_ignore(session.get_bind().dialect.name, Delivery).returning(Delivery.id), chunk)
        added += len(result.all())
        if progress is not None:
            progress(min(start + batch, len(rows)), len(rows))
    return added


def claim(engine: Engine, worker: str, limit: int, now: dt.datetime, lease_seconds: float) -> list[Claimed]:
    """Lease up to ``limit`` due rows to ``worker``: urgent first, then oldest due."""
    ids = (
        select(Delivery.id)
        .where(Delivery.state == "pending", Delivery.due_at <= now)
        .order_by(Delivery.priority, Delivery.due_at, Delivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(Delivery)
        .where(Delivery.id.in_(ids.scalar_subquery()), Delivery.state == "pending")
        .values(
            state="sending",
            worker=worker,
            lease_until=now + dt.timedelta(seconds=lease_seconds),
            attempts=Delivery.attempts + 1,
        )
        .returning(*_CLAIM_COLUMNS)
    )
    with engine.begin() as conn:
        rows = conn.execute(statement).all()
    claimed = [Claimed(**dict(row._mapping)) for row in rows]
    claimed.sort(key=lambda c: (c.priority, c.id))
    return claimed


def recover_expired(engine: Engine, now: dt.datetime) -> int:
    """Settle rows whose worker died mid-send: uncertain (robots, templates) or back to pending (others)."""
    expired = and_(Delivery.state == "sending", Delivery.lease_until < now)
    with engine.begin() as conn:
        unsure = conn.execute(
            update(Delivery)
            .where(expired, Delivery.channel.in_(sorted(UNDEDUPLICABLE)))
            .values(
                state="uncertain",
                lease_until=None,
                error="发送途中工作进程中断，无法确认是否已送达；请核实后运行 cunwu notice resolve",
            )
        ).rowcount
        retried = conn.execute(
            update(Delivery)
            .where(expired, Delivery.channel.not_in(sorted(UNDEDUPLICABLE)))
            .values(state="pending", lease_until=None, due_at=now, error="工作进程中断，已重新排队")
        ).rowcount
    return int(unsure or 0) + int(retried or 0)


def _held(delivery_id: int, worker: str) -> Any:
    return and_(Delivery.id == delivery_id, Delivery.state == "sending", Delivery.worker == worker)


def finish(engine: Engine, delivery_id: int, worker: str, **values: Any) -> bool:
    """Write the outcome of a send if ``worker`` still holds the row; False when it lost the lease."""
    with engine.begin() as conn:
        result = conn.execute(update(Delivery).where(_held(delivery_id, worker)).values(lease_until=None, **values))
    return bool(result.rowcount)


def finish_many(engine: Engine, worker: str, outcomes: Sequence[tuple[int, Mapping[str, Any]]]) -> int:
    """Write the outcomes of a batch in one transaction; returns how many rows the worker still held."""
    held = 0
    with engine.begin() as conn:
        for delivery_id, values in outcomes:
            result = conn.execute(update(Delivery).where(_held(delivery_id, worker)).values(lease_until=None, **values))
            held += int(result.rowcount or 0)
    return held


def record_progress(engine: Engine, delivery_id: int, worker: str, parts_sent: int) -> None:
    """How many parts of a multi-part robot message are confirmed sent (a resend starts after them)."""
    with engine.begin() as conn:
        conn.execute(update(Delivery).where(_held(delivery_id, worker)).values(parts_sent=parts_sent))


def acquire_rate(
    engine: Engine, key: str, interval: float, now: float, *, n: int = 1, max_wait: float = 5.0
) -> float | None:
    """Reserve ``n`` consecutive send times ``interval`` apart for ``key``; returns the first, or None.

    None means the next free time is more than ``max_wait`` away: the caller releases its row until then
    (see :func:`next_free`). Held in the database so every worker process shares the budget.
    """
    with engine.begin() as conn:
        conn.execute(insert_ignore(conn.dialect.name, RateLimit).values(key=key, next_at=0.0))
        start = case((RateLimit.next_at > now, RateLimit.next_at), else_=now)
        row = conn.execute(
            update(RateLimit)
            .where(RateLimit.key == key, RateLimit.next_at <= now + max_wait)
            .values(next_at=start + n * interval)
            .returning(RateLimit.next_at)
        ).first()
    return None if row is None else float(row[0]) - n * interval


def next_free(engine: Engine, key: str) -> float:
    with engine.connect() as conn:
        value = conn.execute(select(RateLimit.next_at).where(RateLimit.key == key)).scalar()
    return float(value or 0.0)


def take_quota(engine: Engine, key: str, limit: int) -> bool:
    """Use one unit of a quota (``key`` names the period); False when ``limit`` units are used already."""
    with engine.begin() as conn:
        conn.execute(insert_ignore(conn.dialect.name, QuotaCounter).values(key=key, used=0))
        row = conn.execute(
            update(QuotaCounter)
            .where(QuotaCounter.key == key, QuotaCounter.used < limit)
            .values(used=QuotaCounter.used + 1)
            .returning(QuotaCounter.used)
        ).first()
    return row is not None


def give_back_quota(engine: Engine, key: str) -> None:
    """Return a unit taken for a send the platform refused."""
    with engine.begin() as conn:
        conn.execute(
            update(QuotaCounter)
            .where(QuotaCounter.key == key, QuotaCounter.used > 0)
            .values(used=QuotaCounter.used - 1)
        )


def counts(session: Session, notice_ids: Iterable[str] | None = None) -> dict[str, int]:
    """Deliveries by state (all notices, or the given ones)."""
    query = select(Delivery.state, func.count()).group_by(Delivery.state)
    if notice_ids is not None:
        query = query.where(Delivery.notice_id.in_(list(notice_ids)))
    return {state: int(n) for state, n in session.execute(query).all()}
