"""``load_documents`` reads catalog items as plain rows (no ORM objects, shared strings): the same
documents, in the same order, as reading the ORM items would give."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from admin_cli.main import cli
from content.matcher.documents import KIND_CATALOG, Doc, load_documents
from content.repository import list_items
from core.db import make_engine, make_sessionmaker


def test_catalog_documents_match_the_items(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cunwu.db'}"
    assert CliRunner().invoke(cli, ["--db", url, "load-sample"], catch_exceptions=False).exit_code == 0
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        docs = [d for d in load_documents(session) if d.kind == KIND_CATALOG]
        want = [
            Doc(
                kind=KIND_CATALOG,
                id=item.code,
                title=item.title,
                township=item.township.name,
                domain=item.domain,
                group=item.group,
                elements=tuple(item.elements or ()),
                time_limit=item.time_limit,
                publishers=tuple(item.publishers or ()),
                channels=tuple(item.channels or ()),
                audience=item.audience,
                method=item.method,
            )
            for item in list_items(session)
        ]
    engine.dispose()
    assert len(docs) == 223 and docs == want
    # repeated fields are one object
    assert len({id(d.domain) for d in docs}) == len({d.domain for d in docs})
