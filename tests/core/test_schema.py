"""Migrations: concurrent upgrades serialised, a database newer than the code refused with exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import text

from core.db import make_engine
from core.schema import UPGRADE_LOCK, head_revision
from tests.conftest import REPO, Cunwu

NEWER = "0999"


def _cunwu_process(url: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "admin_cli.main", "--db", url, *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _three_upgrades_released_at_once(url: str, hold, waiting) -> list[tuple[int, str, str]]:  # type: ignore[no-untyped-def]
    """Start three upgrades while ``hold`` keeps them out, wait until they queue, then let go."""
    with hold() as release:
        procs = [_cunwu_process(url, "db", "upgrade") for _ in range(3)]
        deadline = time.monotonic() + 60
        while not waiting(procs):
            assert time.monotonic() < deadline, "the upgrades never queued behind the lock"
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.1)
        release()
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        out.append((p.returncode, stdout, stderr))
    return out


def _assert_one_upgraded(results: list[tuple[int, str, str]]) -> None:
    head = head_revision()
    assert [rc for rc, _, _ in results] == [0, 0, 0], results
    assert all(err == "" for _, _, err in results), results
    said = sorted(out.strip() for _, out, _ in results)
    assert said == [f"数据库已升级：空库 → {head}", *[f"数据库已是最新版本（{head}）。"] * 2], said


@pytest.mark.pg
def test_three_concurrent_upgrades_on_fresh_postgresql(pg_url: str) -> None:
    engine = make_engine(pg_url, isolation_level="AUTOCOMMIT")
    conn = engine.connect()

    def hold():  # type: ignore[no-untyped-def]
        from contextlib import contextmanager

        @contextmanager
        def held():  # type: ignore[no-untyped-def]
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": UPGRADE_LOCK})
            yield lambda: conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": UPGRADE_LOCK})

        return held()

    def waiting(_procs: object) -> bool:
        n = conn.execute(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = :k"),
            {"k": UPGRADE_LOCK},
        ).scalar()
        return n == 3

    try:
        results = _three_upgrades_released_at_once(pg_url, hold, waiting)
    finally:
        conn.close()
        engine.dispose()
    _assert_one_upgraded(results)


def test_three_concurrent_upgrades_on_fresh_sqlite(sqlite_url: str) -> None:
    import sqlite3
    from contextlib import contextmanager

    path = sqlite_url.removeprefix("sqlite:///")
    started = time.monotonic()

    @contextmanager
    def hold():  # type: ignore[no-untyped-def]
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("BEGIN EXCLUSIVE")
        try:
            yield lambda: db.execute("COMMIT")
        finally:
            db.close()

    def waiting(_procs: object) -> bool:  # SQLite shows no queue: give the processes time to reach the lock
        return time.monotonic() - started > 4

    _assert_one_upgraded(_three_upgrades_released_at_once(sqlite_url, hold, waiting))


def _make_newer(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": NEWER})
    engine.dispose()


def test_database_newer_than_the_code_is_refused(cunwu: Cunwu, migrated_url: str) -> None:
    _make_newer(migrated_url)
    message = f"数据库版本 {NEWER} 比程序新，请升级 cunwu"
    for args in (("db", "status"), ("db", "upgrade"), ("catalog", "list"), ("village", "list"), ("load-sample",)):
        result = cunwu(*args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.strip() == f"错误：{message}", (args, result.stderr)
    assert "cunwu db upgrade" not in cunwu("db", "status").output
