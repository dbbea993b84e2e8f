"""Bulk writes that do their Python work before they take the database's write lock.

A 100,000-row import spends most of its write time in Python: SQLAlchemy turns each value into
what the driver takes (JSON text, UTC timestamps) and each row into the driver's parameters as it
executes. Here all of that happens first: :func:`insert_batch` and :func:`update_batch` convert
values with each column type's public ``bind_processor``, compile the statement once on an
untyped copy of the table and lay out every row's parameters. :meth:`Batch.run` is then the
driver's ``executemany`` alone, so SQLite's write lock (taken by the first INSERT or UPDATE) is
held for the database's own work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, bindparam, column, insert, table, update
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import TableClause

Row = Mapping[str, Any]


@dataclass
class Batch:
    """One statement and the parameters of every row, ready for ``executemany``."""

    sql: str
    params: list[Any]  # lists (positional drivers) or dicts (named ones)
    slots: dict[str, Any]  # a column's index in a positional row, or its key in a named one

    def fill(self, name: str, value: Any) -> None:
        """Set one column in every row (a value known only once writing has begun, such as a new id)."""
        slot = self.slots[name]
        for row in self.params:
            row[slot] = value

    def run(self, conn: Connection) -> None:
        if self.params:  # positional rows go as tuples (a few ms for 100,000 rows)
            params = [tuple(p) for p in self.params] if isinstance(self.params[0], list) else self.params
            conn.exec_driver_sql(self.sql, params)


def _converted(target: Table, rows: Iterable[Row], dialect: Dialect) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    processors: dict[str, Any] = {}
    for row in rows:
        converted: dict[str, Any] = {}
        for name, value in row.items():
            if name not in processors:
                processors[name] = target.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            proc = processors[name]
            converted[name] = proc(value) if proc is not None and value is not None else value
        out.append(converted)
    return out


def _untyped(target: Table, names: Iterable[str]) -> TableClause:
    return table(target.name, *(column(name) for name in names))


def _batch(stmt: Any, rows: list[dict[str, Any]], dialect: Dialect) -> Batch:
    compiled = stmt.compile(dialect=dialect)
    if compiled.positional:
        order = list(compiled.positiontup or [])
        return Batch(str(compiled), [[row[n] for n in order] for row in rows], {n: i for i, n in enumerate(order)})
    return Batch(str(compiled), rows, {n: n for n in compiled.params})


def insert_batch(target: Table, names: list[str], rows: Iterable[Row], dialect: Dialect) -> Batch:
    """An INSERT of ``names`` for every row (each row holds those keys; missing ones are None)."""
    converted = _converted(target, ({n: row.get(n) for n in names} for row in rows), dialect)
    return _batch(insert(_untyped(target, names)), converted, dialect)


def update_batch(target: Table, names: list[str], rows: Iterable[Row], dialect: Dialect, key: str = "id") -> Batch:
    """An UPDATE of ``names`` by ``key`` for every row."""
    converted = _converted(target, ({n: row[n] for n in [key, *names]} for row in rows), dialect)
    t = _untyped(target, [key, *names])
    stmt = update(t).where(t.c[key] == bindparam("_key")).values({n: bindparam(n) for n in names})
    return _batch(stmt, [{"_key": row.pop(key), **row} for row in converted], dialect)
