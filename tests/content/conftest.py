"""Fixtures shared by the matcher's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from admin_cli.main import cli
from content.matcher.service import Matcher
from core.db import make_engine, make_sessionmaker
from village_lists.documents import village_docs


@pytest.fixture(scope="module")
def sample_matcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matcher]:
    """The matcher over the sample township, loaded through the CLI as an operator would, once a module."""
    url = f"sqlite:///{tmp_path_factory.mktemp('sample') / 'cunwu.db'}"
    result = CliRunner().invoke(cli, ["--db", url, "load-sample"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        yield Matcher.from_session(session, village_docs(session))
    engine.dispose()
