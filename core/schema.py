"""Schema version checks and upgrades through Alembic (migrations/ ships with the package)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, inspect, text

from core.errors import SchemaOutdated

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def _alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config("sqlite://")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine) -> tuple[str | None, str | None]:
    """Bring the schema to head; returns (before, after). Idempotent."""
    from alembic import command

    before = current_revision(engine)
    cfg = _alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return before, current_revision(engine)


_checked: set[str] = set()


def ensure_current(engine: Engine) -> None:
    key = engine.url.render_as_string(hide_password=False)
    if key in _checked:
        return
    if current_revision(engine) != head_revision():
        raise SchemaOutdated()
    _checked.add(key)
