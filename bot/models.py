"""The bot's tables: inbound messages (deduplication across retries and processes) and the question log."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, utcnow

STATUS_PROCESSING = "processing"
STATUS_DONE = "done"

VIA_PASSIVE = "passive"
"""The answer went back as the passive reply to WeChat's POST."""
VIA_CUSTOMER_SERVICE = "cs"
"""The budget ran out: WeChat got ``success`` and the answer went through the customer-service API."""
VIA_NONE = "none"
"""Nothing to say (``success``): unknown events, unsubscribe …"""
VIA_FAILED = "failed"
"""The customer-service send failed (quota, 48-hour window …); see ``error``."""


class InboundMessage(Base):
    """One message or event WeChat posted, keyed by WeChat's retry rule.

    ``openid`` holds the sender's HMAC (:mod:`bot.privacy`), never the raw openid.
    A row is *claimed* by inserting it (``status='processing'``); the unique ``dedupe_key`` makes a
    second insert fail, so two processes never answer one message twice. The winner stores the
    reply text and ``status='done'``; a retry that lost the race reads the stored reply.
    """

    __tablename__ = "bot_inbound_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    openid: Mapped[str] = mapped_column(String(64), default="")
    msg_type: Mapped[str] = mapped_column(String(16), default="")
    status: Mapped[str] = mapped_column(String(12), default=STATUS_PROCESSING)
    reply: Mapped[str | None] = mapped_column(Text, nullable=True)
    via: Mapped[str] = mapped_column(String(12), default="")
    error: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class QuestionLog(Base):
    """One question a villager (or the JSON API) asked, for the staff report of unanswered questions.

    ``user_hash`` is an HMAC of the openid under this installation's own key (:mod:`bot.privacy`):
    enough to count distinct askers, not a way back to the person.
    """

    __tablename__ = "bot_question_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_hash: Mapped[str] = mapped_column(String(16), default="")
    channel: Mapped[str] = mapped_column(String(12), default="wechat")  # wechat / api
    village: Mapped[str | None] = mapped_column(String(16), nullable=True)
    question: Mapped[str] = mapped_column(Text)
    normalized: Mapped[str] = mapped_column(Text, default="")
    answered: Mapped[bool] = mapped_column(Boolean, default=False)
    top_id: Mapped[str] = mapped_column(String(64), default="")
    top_kind: Mapped[str] = mapped_column(String(16), default="")
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class BotSecret(Base):
    """A secret this installation made for itself once (the key of the openid HMAC), kept in the database
    so every process of one installation uses the same one."""

    __tablename__ = "bot_secrets"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
