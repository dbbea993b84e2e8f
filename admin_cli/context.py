"""The object every command finds in ``ctx.obj``: settings, a lazily made engine, the clock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock, SystemClock
from core.config import Settings
from core.db import make_engine, make_sessionmaker
from core.schema import ensure_current


@dataclass
class CliContext:
    settings: Settings
    verbose: bool = False
    clock: Clock = field(default_factory=SystemClock)
    _engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings.database_url)
        return self._engine

    def sessionmaker(self) -> sessionmaker[Session]:
        return make_sessionmaker(self.engine)

    @contextmanager
    def session(self, *, check_schema: bool = True) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        if check_schema:
            ensure_current(self.engine)
        with self.sessionmaker().begin() as session:
            yield session

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


pass_ctx = click.make_pass_decorator(CliContext)
