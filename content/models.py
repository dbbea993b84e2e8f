"""Catalog items, interpretations and their Q&A pairs, per township."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime, utcnow


class Township(Base):
    __tablename__ = "townships"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    county: Mapped[str] = mapped_column(String(64), default="")
    service_phone: Mapped[str] = mapped_column(String(32), default="")


class CatalogItem(Base):
    """One 二级事项 of a township's 政务公开事项标准目录."""

    __tablename__ = "catalog_items"
    __table_args__ = (UniqueConstraint("township_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    township_id: Mapped[int] = mapped_column(ForeignKey("townships.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(16))  # 编码 NN-NNN
    domain: Mapped[str] = mapped_column(String(32))  # 试点领域
    group: Mapped[str] = mapped_column(String(64))  # 一级事项
    title: Mapped[str] = mapped_column(String(200))  # 二级事项
    elements: Mapped[list[str]] = mapped_column(JSON)  # 公开内容（要素）
    basis: Mapped[str] = mapped_column(Text)  # 公开依据
    time_limit: Mapped[str] = mapped_column(String(128))  # 公开时限
    publishers: Mapped[list[str]] = mapped_column(JSON)  # 公开主体
    channels: Mapped[list[str]] = mapped_column(JSON)  # 公开渠道和载体
    audience: Mapped[str] = mapped_column(String(128))  # 公开对象
    method: Mapped[str] = mapped_column(String(8))  # 公开方式 主动/依申请
    levels: Mapped[list[str]] = mapped_column(JSON)  # 公开层级
    status: Mapped[str] = mapped_column(String(8), default="active")  # active / retired
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    township: Mapped[Township] = relationship(lazy="joined")

    @property
    def domain_no(self) -> str:
        return self.code[:2]


class Interpretation(Base):
    """A 政策解读. For 此件不公开 only metadata is stored: ``summary`` and Q&A stay empty."""

    __tablename__ = "interpretations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # JD-001
    title: Mapped[str] = mapped_column(String(200))
    document: Mapped[str] = mapped_column(String(200), default="")
    doc_number: Mapped[str] = mapped_column(String(100), default="")
    issuer: Mapped[str] = mapped_column(String(100), default="")
    published: Mapped[dt.date] = mapped_column(Date)
    interpreted: Mapped[dt.date] = mapped_column(Date)
    disclosure: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(8), default="现行有效")
    items: Mapped[list[str]] = mapped_column(JSON, default=list)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    body: Mapped[str | None] = mapped_column(Text, nullable=True)  # public part only
    source_file: Mapped[str] = mapped_column(String(255), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    qas: Mapped[list[QAPair]] = relationship(
        back_populates="interpretation", cascade="all, delete-orphan", order_by="QAPair.seq"
    )


class QAPair(Base):
    __tablename__ = "interpretation_qas"
    __table_args__ = (UniqueConstraint("interpretation_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    interpretation_id: Mapped[str] = mapped_column(ForeignKey("interpretations.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)

    interpretation: Mapped[Interpretation] = relationship(back_populates="qas")


class ContentRevision(Base):
    """A single counter bumped by every content write; the matcher rebuilds when it moves."""

    __tablename__ = "content_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
