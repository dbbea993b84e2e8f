"""The push tables: notices and their history, deliveries (the queue), fired slots, rate and quota counters.

The ``notices`` table is the truth for schedules; ``deliveries`` is the queue (one row per notice × channel ×
target × slot, unique); ``notice_slots`` records each slot once (enqueued, sent late as 补发, or missed), so
two schedulers, or a timer that fires twice, enqueue nothing twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, utcnow

# Notice lifecycle: draft → approved → scheduled → sending → done, or cancelled.
NOTICE_STATES = ("draft", "approved", "scheduled", "sending", "done", "cancelled")
# Delivery states, as `cunwu notice show --json` prints them.
DELIVERY_STATES = ("pending", "sending", "sent", "failed", "uncertain", "cancelled")
# Channels of a delivery row.
CHANNELS = ("robot", "oa_mass", "template", "loudspeaker")


class Notice(Base):
    __tablename__ = "push_notices"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # TZ-2026-028
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text)
    items: Mapped[list[str]] = mapped_column(JSON, default=list)
    villages: Mapped[Any] = mapped_column(JSON)  # "all" or a list of village codes
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    channels: Mapped[list[str]] = mapped_column(JSON)  # 公众号 / 微信群 / 广播, in priority order
    schedule: Mapped[str] = mapped_column(String(64))
    send_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cron: Mapped[str | None] = mapped_column(String(64), nullable=True)
    valid_from: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    valid_until: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    publicity_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    priority: Mapped[str | None] = mapped_column(String(16), nullable=True)
    status: Mapped[str] = mapped_column(String(12), default="draft", index=True)
    author: Mapped[str] = mapped_column(String(64))
    approved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    generation: Mapped[int] = mapped_column(Integer, default=1)  # bumped by every edit (part of clientmsgid)
    source_path: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def urgent(self) -> bool:
        return self.priority == "urgent" or self.kind == "应急通知"


class NoticeEvent(Base):
    """One change of a notice: who, when, what (import, edit, approve, cancel, missed slot …)."""

    __tablename__ = "push_notice_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[str] = mapped_column(ForeignKey("push_notices.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str] = mapped_column(String(12), default="")
    to_status: Mapped[str] = mapped_column(String(12), default="")
    detail: Mapped[str] = mapped_column(Text, default="")


class NoticeSlot(Base):
    """A slot of a notice seen by a scheduler: ``enqueued``, ``late`` (补发) or ``missed``. Unique per notice."""

    __tablename__ = "push_notice_slots"

    notice_id: Mapped[str] = mapped_column(ForeignKey("push_notices.id", ondelete="CASCADE"), primary_key=True)
    slot: Mapped[str] = mapped_column(String(40), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(12))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Delivery(Base):
    """One message to one target: a row of the queue, claimed by a worker with a lease."""

    __tablename__ = "push_deliveries"
    __table_args__ = (
        UniqueConstraint("notice_id", "channel", "target", "slot", name="uq_push_deliveries_key"),
        Index("ix_push_deliveries_queue", "state", "priority", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[str] = mapped_column(ForeignKey("push_notices.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(128))
    slot: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(12), default="notice")  # notice | reminder
    state: Mapped[str] = mapped_column(String(12), default="pending")
    priority: Mapped[int] = mapped_column(Integer, default=5)  # 0 urgent, 5 normal, 9 reminder
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    worker: Mapped[str] = mapped_column(String(64), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    late: Mapped[bool] = mapped_column(Boolean, default=False)  # 补发
    parts_sent: Mapped[int] = mapped_column(Integer, default=0)
    external_id: Mapped[str] = mapped_column(String(64), default="")  # msg_id of a mass or template send
    note: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RateLimit(Base):
    """A pacing counter shared by every worker: the earliest time (epoch seconds) the next send may go."""

    __tablename__ = "push_rate_limits"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    next_at: Mapped[float] = mapped_column(Float, default=0.0)


class QuotaCounter(Base):
    """Sends used in a period (mass sends per tag per month, or per account per day)."""

    __tablename__ = "push_quota_counters"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    used: Mapped[int] = mapped_column(Integer, default=0)


class TagMember(Base):
    """The official-account tag a follower was last put into by push (kept in step with bindings)."""

    __tablename__ = "push_tag_members"

    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
    tag_name: Mapped[str] = mapped_column(String(30))
