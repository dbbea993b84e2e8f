"""Queries over catalog items, interpretations and townships. Functions take a session."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from content.models import CatalogItem, ContentRevision, Interpretation, Township
from core.db import utcnow
from core.errors import NotFound


def get_or_create_township(session: Session, name: str, *, create: bool = True) -> Township | None:
    ts = session.scalar(select(Township).where(Township.name == name))
    if ts is None and create:
        ts = Township(name=name)
        session.add(ts)
        session.flush()
    return ts


def list_townships(session: Session) -> list[Township]:
    return list(session.scalars(select(Township).order_by(Township.id)))


def resolve_township(session: Session, name: str | None) -> Township | None:
    """The named township, or None for all. Raises NotFound for an unknown name."""
    if not name:
        return None
    ts = session.scalar(select(Township).where(Township.name == name))
    if ts is None:
        raise NotFound(f"没有名为“{name}”的乡镇")
    return ts


def list_items(
    session: Session, *, township: str | None = None, domain: str | None = None, include_retired: bool = False
) -> list[CatalogItem]:
    stmt = select(CatalogItem).join(Township)
    if township:
        stmt = stmt.where(Township.name == township)
    if domain:
        stmt = stmt.where((CatalogItem.domain == domain) | (CatalogItem.code.startswith(domain.zfill(2) + "-")))
    if not include_retired:
        stmt = stmt.where(CatalogItem.status == "active")
    return list(session.scalars(stmt.order_by(Township.id, CatalogItem.code)))


def get_items(session: Session, code: str, *, township: str | None = None) -> list[CatalogItem]:
    stmt = select(CatalogItem).join(Township).where(CatalogItem.code == code)
    if township:
        stmt = stmt.where(Township.name == township)
    items = list(session.scalars(stmt.order_by(Township.id)))
    if not items:
        raise NotFound(f"目录中没有编码为 {code} 的事项")
    return items


def active_codes(session: Session) -> set[str]:
    return set(session.scalars(select(CatalogItem.code).where(CatalogItem.status == "active")))


def list_interpretations(session: Session) -> list[Interpretation]:
    return list(
        session.scalars(select(Interpretation).options(selectinload(Interpretation.qas)).order_by(Interpretation.id))
    )


def get_interpretation(session: Session, interp_id: str) -> Interpretation:
    interp = session.get(Interpretation, interp_id, options=[selectinload(Interpretation.qas)])
    if interp is None:
        raise NotFound(f"没有编号为 {interp_id} 的政策解读")
    return interp


def content_revision(session: Session) -> int:
    return session.scalar(select(ContentRevision.revision).where(ContentRevision.id == 1)) or 0


def bump_revision(session: Session) -> None:
    """Mark content as changed so every process's matcher rebuilds its index."""
    result = session.execute(
        update(ContentRevision)
        .where(ContentRevision.id == 1)
        .values(revision=ContentRevision.revision + 1, changed_at=utcnow())
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        session.add(ContentRevision(id=1, revision=1, changed_at=utcnow()))
        session.flush()
