"""The access token shared by every process of the service (one row per appid)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime


class AccessToken(Base):
    """The current access token of one official account, and the lease of whoever refreshes it.

    ``expires_at`` is when we stop using the token (the platform's expiry minus a safety margin).
    ``refreshing_until`` is a lease: the process that set it is fetching a new token; others wait.
    """

    __tablename__ = "wechat_access_tokens"

    appid: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[str] = mapped_column(Text, default="")
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    refreshing_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    fetched_count: Mapped[int] = mapped_column(Integer, default=0)
