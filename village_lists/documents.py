"""Village disclosure-list rows as matcher documents (``content/`` must not import ``village_lists``)."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from content.matcher.documents import KIND_VILLAGE, Doc
from village_lists.models import Village


def village_docs(session: Session) -> list[Doc]:
    """One ``Doc`` per list row of every village: id ``<村编码>/<序号>``, with village and township."""
    docs: list[Doc] = []
    villages = session.scalars(select(Village).options(selectinload(Village.rows)).order_by(Village.code))
    for village in villages:
        township = village.township.name if village.township is not None else None
        for row in village.rows:
            docs.append(
                Doc(
                    kind=KIND_VILLAGE,
                    id=row.row_id,
                    title=row.title,
                    township=township,
                    village=village.code,
                    group=village.name,
                    elements=tuple(row.elements or ()),
                    time_limit=row.time_limit,
                    channels=tuple(row.channels or ()),
                    items=(row.catalog_code,) if row.catalog_code else (),
                    responsible=row.responsible,
                    last_disclosed=row.last_disclosed.isoformat() if row.last_disclosed else "",
                )
            )
    return docs


def village_townships(session: Session) -> dict[str, str]:
    """村编码 → township name, so a bound villager is answered from their own township."""
    return {v.code: v.township.name for v in session.scalars(select(Village)) if v.township is not None}


def village_docs_from_dir(base: Path, township: str) -> list[Doc]:
    """The same documents read straight from a sample folder (``villages.csv`` + ``village_lists/*.csv``).

    For benches and tests that run before village lists are imported into the database.
    """
    names: dict[str, str] = {}
    with (base / "villages.csv").open(encoding="utf-8-sig", newline="") as fh:
        for rec in csv.DictReader(fh):
            names[rec["村编码"]] = rec["村名"]
    docs: list[Doc] = []
    for path in sorted((base / "village_lists").glob("*.csv")):
        code = path.stem
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for rec in csv.DictReader(fh):
                catalog_code = rec["对应目录编码"].strip()
                docs.append(
                    Doc(
                        kind=KIND_VILLAGE,
                        id=f"{code}/{int(rec['序号'])}",
                        title=rec["公开事项"].strip(),
                        township=township,
                        village=code,
                        group=names.get(code, ""),
                        elements=tuple(e for e in rec["公开内容"].split("、") if e),
                        time_limit=rec["公开时限"].strip(),
                        channels=tuple(c for c in rec["公开渠道"].split("；") if c),
                        items=(catalog_code,) if catalog_code else (),
                        responsible=rec["责任人"].strip(),
                        last_disclosed=rec["最近公开日期"].strip(),
                    )
                )
    return docs
