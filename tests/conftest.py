"""Shared fixtures: real database files (SQLite) and real PostgreSQL databases, a CLI runner."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from admin_cli.main import cli
from core.db import make_engine, make_sessionmaker
from core.schema import upgrade

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "examples" / "qinghe"
PG_ENV = "CUNWU_TEST_PG_URL"
# The tests' CUNWU_SECRET_KEY (32 bytes of URL-safe base64), set for every test by _secret_key.
TEST_SECRET_KEY = "dGVzdC1rZXktbm90LWZvci1wcm9kdWN0aW9uLTMyYiE="


def pg_admin_url() -> str | None:
    return os.environ.get(PG_ENV) or None


@pytest.fixture(autouse=True)
def _secret_key() -> Iterator[None]:
    """Every test runs with a CUNWU_SECRET_KEY, as `make run` does; a test may delete it (monkeypatch).

    Not through ``monkeypatch`` itself: an autouse fixture holding it would undo a test's own
    patches only after the test's other fixtures (an app's cleanup) have run.
    """
    saved = os.environ.get("CUNWU_SECRET_KEY")
    os.environ["CUNWU_SECRET_KEY"] = TEST_SECRET_KEY
    yield
    if saved is None:
        os.environ.pop("CUNWU_SECRET_KEY", None)
    else:
        os.environ["CUNWU_SECRET_KEY"] = saved


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database URL: a SQLite file, and (when CUNWU_TEST_PG_URL is set) a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cunwu.db'}"
        return
    yield from _pg_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cunwu.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from _pg_database()


def _pg_database() -> Iterator[str]:
    admin = pg_admin_url()
    if not admin:
        pytest.skip(f"PostgreSQL tests skipped: set {PG_ENV}=postgresql://postgres@127.0.0.1:5432/test to run them")
    name = f"cunwu_t_{uuid.uuid4().hex[:12]}"
    engine = make_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = admin.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture
def migrated_url(db_url: str) -> str:
    engine = make_engine(db_url)
    upgrade(engine)
    engine.dispose()
    return db_url


@pytest.fixture
def session_factory(migrated_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(migrated_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@dataclass
class Cunwu:
    """Runs ``cunwu`` commands against one database, the way a staff member would."""

    url: str

    def __call__(self, *args: str, input: str | None = None) -> Result:
        runner = CliRunner()
        return runner.invoke(cli, ["--db", self.url, *args], input=input, catch_exceptions=False, standalone_mode=True)

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.exit_code == 0, f"cunwu {' '.join(args)} failed ({result.exit_code}):\n{result.output}"
        return result


@pytest.fixture
def cunwu(migrated_url: str) -> Cunwu:
    return Cunwu(migrated_url)


# --- CI guard: when CUNWU_REQUIRE_PG is set, a skipped PostgreSQL test fails the run. ---
_pg_outcomes: dict[str, int] = {"passed": 0, "skipped": 0, "failed": 0}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "pg" not in report.keywords:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _pg_outcomes[report.outcome] = _pg_outcomes.get(report.outcome, 0) + 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not os.environ.get("CUNWU_REQUIRE_PG"):
        return
    if _pg_outcomes["skipped"] or not _pg_outcomes["passed"]:
        session.exitstatus = 1
        print(f"\nCUNWU_REQUIRE_PG is set but PostgreSQL tests did not all run: {_pg_outcomes}")


# Hypothesis: a fast profile by default, a thorough one in CI (CI=true).
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("fast", max_examples=40, deadline=None)
_hypothesis_settings.register_profile("ci", max_examples=1000, deadline=None)
_hypothesis_settings.load_profile("ci" if os.environ.get("CI", "").lower() == "true" else "fast")
