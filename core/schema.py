"""Schema version checks and upgrades through Alembic (migrations/ ships with the package).

Upgrades are serialised: on PostgreSQL by a transaction-level advisory lock, on SQLite by an
exclusive transaction, both taken before the current revision is read. Several ``cunwu db upgrade``
started at once therefore run one after another; the later ones find the schema at head and do
nothing. A database whose revision this code does not know comes from a newer release:
:class:`~core.errors.SchemaNewer`, never an attempt to "upgrade" it.
"""

from __future__ import annotations

import functools
from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, text

from core.errors import SchemaNewer, SchemaOutdated

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# pg_advisory_xact_lock key of `cunwu db upgrade` ("cunw" in ASCII)
UPGRADE_LOCK = 0x63756E77
# how long an upgrade waits for another one on SQLite (milliseconds)
SQLITE_UPGRADE_WAIT_MS = 120_000


def _alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@functools.cache
def _script():  # type: ignore[no-untyped-def]
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config("sqlite://"))


def head_revision() -> str | None:
    head: str | None = _script().get_current_head()
    return head


@functools.cache
def known_revisions() -> frozenset[str]:
    """Every revision id this code ships."""
    return frozenset(rev.revision for rev in _script().walk_revisions())


def _revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    value: str | None = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return value


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return _revision(conn)


def check_not_newer(revision: str | None) -> None:
    """Raise SchemaNewer when the database is at a revision this code does not know."""
    if revision is not None and revision not in known_revisions():
        raise SchemaNewer(revision)


def _lock(conn: Connection) -> None:
    """Serialise upgrades: wait for any other upgrade of this database to finish."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": UPGRADE_LOCK})
    else:
        conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_UPGRADE_WAIT_MS}")
        conn.exec_driver_sql("BEGIN EXCLUSIVE")


def upgrade(engine: Engine) -> tuple[str | None, str | None]:
    """Bring the schema to head in one serialised transaction; returns (before, after). Idempotent."""
    from alembic import command

    cfg = _alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        dbapi = conn.connection.driver_connection
        if sqlite:  # we issue BEGIN EXCLUSIVE ourselves; pysqlite would BEGIN only before DML
            saved_isolation = dbapi.isolation_level  # type: ignore[union-attr]
            dbapi.isolation_level = None  # type: ignore[union-attr]
        try:
            _lock(conn)
            before = _revision(conn)
            check_not_newer(before)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            after = _revision(conn)
            conn.commit()
        finally:
            if sqlite:
                conn.rollback()
                dbapi.isolation_level = saved_isolation  # type: ignore[union-attr]
                conn.exec_driver_sql("PRAGMA busy_timeout=10000")
                conn.rollback()
    return before, after


def ensure_current(engine: Engine) -> None:
    """Raise SchemaNewer for a database from a newer release, SchemaOutdated for one behind."""
    current = current_revision(engine)
    check_not_newer(current)
    if current != head_revision():
        raise SchemaOutdated()
