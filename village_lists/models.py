"""Villages, their channels and followers, and their disclosure lists."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from content.models import Township
from core.db import Base, UTCDateTime, utcnow


class Village(Base):
    __tablename__ = "villages"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)  # 村编码 QH01
    name: Mapped[str] = mapped_column(String(64))
    township_id: Mapped[int] = mapped_column(ForeignKey("townships.id"), index=True)
    households: Mapped[int] = mapped_column(Integer, default=0)
    population: Mapped[int] = mapped_column(Integer, default=0)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)  # 村民小组
    wechat_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    loudspeaker_zones: Mapped[list[str]] = mapped_column(JSON, default=list)
    oa_tag: Mapped[str] = mapped_column(String(30), default="")  # official-account tag name
    broadcast_outbox: Mapped[str] = mapped_column(String(255), default="")

    township: Mapped[Township] = relationship(lazy="joined")
    rows: Mapped[list[ListRow]] = relationship(
        back_populates="village", cascade="all, delete-orphan", order_by="ListRow.seq"
    )


class GroupRobot(Base):
    """The WeCom group-robot webhook key of one village WeChat group (a secret)."""

    __tablename__ = "group_robots"
    __table_args__ = (UniqueConstraint("village_code", "group_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    village_code: Mapped[str] = mapped_column(ForeignKey("villages.code", ondelete="CASCADE"))
    group_name: Mapped[str] = mapped_column(String(64))
    webhook_key: Mapped[str] = mapped_column(String(128))


class Follower(Base):
    """A follower of the official account; bound to at most one village."""

    __tablename__ = "followers"

    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
    village_code: Mapped[str | None] = mapped_column(ForeignKey("villages.code"), nullable=True, index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    bound_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ListRow(Base):
    """One row of a village's 村务公开事项清单; its id is ``<村编码>/<序号>``."""

    __tablename__ = "village_list_rows"

    village_code: Mapped[str] = mapped_column(ForeignKey("villages.code", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)  # 序号
    title: Mapped[str] = mapped_column(String(200))  # 公开事项
    elements: Mapped[list[str]] = mapped_column(JSON)  # 公开内容
    time_limit: Mapped[str] = mapped_column(String(128))  # 公开时限
    channels: Mapped[list[str]] = mapped_column(JSON)  # 公开渠道
    responsible: Mapped[str] = mapped_column(String(64), default="")  # 责任人
    catalog_code: Mapped[str] = mapped_column(String(16), default="")  # 对应目录编码 ('' = 自治事项)
    last_disclosed: Mapped[dt.date | None] = mapped_column(Date, nullable=True)  # 最近公开日期
    note: Mapped[str] = mapped_column(Text, default="")

    village: Mapped[Village] = relationship(back_populates="rows")

    @property
    def row_id(self) -> str:
        return f"{self.village_code}/{self.seq}"
