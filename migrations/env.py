"""Alembic environment: the metadata of every package's models."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

import content.models  # noqa: F401
import village_lists.models  # noqa: F401
from core.db import Base, sync_url

try:  # packages that add tables later register them here
    import bot.models  # noqa: F401
except ImportError:  # pragma: no cover
    pass
try:
    import wechat.models  # noqa: F401
except ImportError:  # pragma: no cover
    pass
try:
    import push.models  # noqa: F401
except ImportError:  # pragma: no cover
    pass

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = sync_url(config.get_main_option("sqlalchemy.url") or "sqlite:///var/cunwu.db")
    engine = engine_from_config({"sqlalchemy.url": url}, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
