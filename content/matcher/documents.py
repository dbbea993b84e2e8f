"""What the matcher can answer with: one ``Doc`` per catalog item, interpretation or village-list row.

Disclosure rules are applied here, before anything is indexed:
- 此件不公开 interpretations and retired catalog items are left out entirely;
- 此件删减后公开 bodies were already cut at import (the ``## 删减部分`` section), and only the
  Q&A pairs and summary of the public part are kept;
- 此件依申请公开 interpretations keep their questions (for matching) but no answers or summary,
  so no reply can ever show their body.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from content.models import CatalogItem, Township
from content.repository import list_interpretations, list_townships
from content.vocab import (
    DISCLOSURE_ON_APPLICATION,
    DISCLOSURE_REDACTED,
    DISCLOSURE_SECRET,
    REDACTED_HEADING,
    STATUS_ABOLISHED,
)

KIND_CATALOG = "catalog"
KIND_INTERPRETATION = "interpretation"
KIND_VILLAGE = "village_item"
ON_APPLICATION = "依申请"


@dataclass(frozen=True)
class Doc:
    kind: str  # catalog / interpretation / village_item
    id: str  # 编码, JD-xxx, or <村编码>/<序号>
    title: str
    township: str | None = None  # township name; None for county-wide interpretations
    village: str | None = None  # village code, for village-list rows
    domain: str = ""
    group: str = ""  # 一级事项
    elements: tuple[str, ...] = ()  # 公开内容（要素）
    time_limit: str = ""
    publishers: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    audience: str = ""
    method: str = ""  # 主动 / 依申请 (catalog)
    keywords: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()  # Q&A questions (interpretations)
    answers: tuple[str, ...] = ()  # Q&A answers, parallel to questions; empty when not showable
    summary: str = ""
    document: str = ""
    doc_number: str = ""
    issuer: str = ""
    disclosure: str = ""
    abolished: bool = False
    items: tuple[str, ...] = ()  # linked catalog codes (interpretations; a village row's own code)
    responsible: str = ""  # village rows: 责任人
    last_disclosed: str = ""  # village rows: 最近公开日期

    @property
    def on_application(self) -> bool:
        """Answered with how to apply rather than with content."""
        return self.method == ON_APPLICATION or self.disclosure == DISCLOSURE_ON_APPLICATION

    @property
    def body_showable(self) -> bool:
        return self.kind == KIND_INTERPRETATION and self.disclosure != DISCLOSURE_ON_APPLICATION

    @property
    def redacted(self) -> bool:
        """Published with a part removed (此件删减后公开): what that part said is not ours to tell."""
        return self.disclosure == DISCLOSURE_REDACTED

    def index_parts(self) -> list[str]:
        """The fields searched for this doc, in order, most important ones repeated (field weights)."""
        parts = [self.title, self.title, self.title]
        parts += [self.group, self.domain, *self.elements]
        parts += [k for k in self.keywords for _ in range(2)]
        parts += list(self.questions)
        if self.kind == KIND_VILLAGE:
            parts += list(self.channels)
        return [p for p in parts if p]

    def index_text(self) -> str:
        """The text searched for this doc: its ``index_parts`` joined by spaces."""
        return " ".join(self.index_parts())


def _strip_redacted(text: str) -> str:
    """Defence in depth: drop anything from a 删减部分 heading on (import already did)."""
    cut = text.find(REDACTED_HEADING)
    if cut < 0:
        return text
    head = text[:cut]
    return head[: head.rfind("\n")] if "\n" in head else ""


class _Shared:
    """One copy of each distinct string and tuple: a county's townships repeat the same fields
    (domains, groups, elements, channels, time limits) tens of thousands of times."""

    def __init__(self) -> None:
        self.seen: dict[object, object] = {}

    def text(self, value: str | None) -> str:
        value = value or ""
        return self.seen.setdefault(value, value)  # type: ignore[return-value]

    def tuple(self, values: list[str] | None) -> tuple[str, ...]:
        got = tuple(self.text(v) for v in values or ())
        return self.seen.setdefault(got, got)  # type: ignore[return-value]


def _catalog_docs(session: Session) -> list[Doc]:
    """The active catalog items, by township then code, read as plain rows a batch at a time (no
    ORM objects, repeated strings shared: a 100,000-item county loads in a fraction of the memory)."""
    stmt = (
        select(
            CatalogItem.code,
            CatalogItem.title,
            Township.name,
            CatalogItem.domain,
            CatalogItem.group,
            CatalogItem.elements,
            CatalogItem.time_limit,
            CatalogItem.publishers,
            CatalogItem.channels,
            CatalogItem.audience,
            CatalogItem.method,
        )
        .join(Township, CatalogItem.township_id == Township.id)
        .where(CatalogItem.status == "active")
        .order_by(Township.id, CatalogItem.code)
        .execution_options(yield_per=2000)
    )
    shared = _Shared()
    text, tup = shared.text, shared.tuple
    docs: list[Doc] = []
    rows: Iterable[Any] = session.execute(stmt)  # eleven columns: more than the typed ``Row`` unpacks
    for row in rows:
        code, title, town, domain, group, elements, time_limit, publishers, channels, audience, method = row
        docs.append(
            Doc(
                kind=KIND_CATALOG,
                id=text(code),
                title=title,
                township=text(town),
                domain=text(domain),
                group=text(group),
                elements=tup(elements),
                time_limit=text(time_limit),
                publishers=tup(publishers),
                channels=tup(channels),
                audience=text(audience),
                method=text(method),
            )
        )
    return docs


def load_documents(session: Session) -> list[Doc]:
    """Catalog items and interpretations that may be shown to the public."""
    docs = _catalog_docs(session)
    for interp in list_interpretations(session):
        if interp.disclosure == DISCLOSURE_SECRET or interp.body is None:
            continue
        showable = interp.disclosure != DISCLOSURE_ON_APPLICATION
        pairs = [(qa.question, _strip_redacted(qa.answer)) for qa in interp.qas]
        pairs = [(q, a) for q, a in pairs if REDACTED_HEADING not in q]
        docs.append(
            Doc(
                kind=KIND_INTERPRETATION,
                id=interp.id,
                title=interp.title,
                township=None,
                keywords=tuple(interp.keywords or ()),
                questions=tuple(q for q, _ in pairs),
                answers=tuple(a for _, a in pairs) if showable else (),
                summary=_strip_redacted(interp.summary or "") if showable else "",
                document=interp.document,
                doc_number=interp.doc_number,
                issuer=interp.issuer,
                disclosure=interp.disclosure,
                abolished=interp.status == STATUS_ABOLISHED,
                items=tuple(interp.items or ()),
            )
        )
    return docs


def township_phones(session: Session) -> dict[str, str]:
    """Each township's service phone, for the "I don't know, call …" reply."""
    return {ts.name: ts.service_phone for ts in list_townships(session) if isinstance(ts, Township)}
