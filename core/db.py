"""Database: declarative ``Base``, engines and session factories for SQLite and PostgreSQL.

Users write plain ``sqlite:///path`` or ``postgresql://user@host/db`` URLs; this module picks
the driver: pysqlite / aiosqlite for SQLite, psycopg 3 (sync and async) for PostgreSQL.
Library code is written once against a sync :class:`~sqlalchemy.orm.Session`; async callers
run it through ``AsyncSession.run_sync``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from core.errors import ConfigError

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware datetimes stored as UTC on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; pass an aware one")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def _parse(url: str) -> URL:
    try:
        return make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError for garbage
        raise ConfigError(f"数据库地址无效：{url!r}") from exc


_DRIVERS = {
    # backend: (sync driver, async driver)
    "sqlite": ("sqlite+pysqlite", "sqlite+aiosqlite"),
    "postgresql": ("postgresql+psycopg", "postgresql+psycopg"),
}


def _with_driver(url: str, index: int) -> URL:
    u = _parse(url)
    backend = u.get_backend_name()
    if backend not in _DRIVERS:
        raise ConfigError(f"不支持的数据库：{backend}（只支持 sqlite 与 postgresql）")
    return u.set(drivername=_DRIVERS[backend][index])


def sync_url(url: str) -> URL:
    return _with_driver(url, 0)


def async_url(url: str) -> URL:
    return _with_driver(url, 1)


def _ensure_sqlite_dir(u: URL) -> None:
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=10000")  # first: switching to WAL waits for a lock too
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """A sync engine. SQL parameters never reach logs or error messages: they carry tokens and keys."""
    u = sync_url(url)
    _ensure_sqlite_dir(u)
    kwargs.setdefault("hide_parameters", True)
    engine = create_engine(u, **kwargs)
    if u.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def make_async_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; parameters hidden from logs and errors as in :func:`make_engine`."""
    u = async_url(url)
    _ensure_sqlite_dir(u)
    kwargs.setdefault("hide_parameters", True)
    engine = create_async_engine(u, **kwargs)
    if u.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def insert_ignore(dialect: str, table: Any) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` into ``table`` (a Table or a mapped class) for the dialect
    named (``sqlite`` or ``postgresql``)."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table).on_conflict_do_nothing()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def make_async_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
