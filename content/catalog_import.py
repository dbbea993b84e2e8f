"""Import of the township disclosure catalog from the standard spreadsheet template.

Validation first, over every row, and the comparison with the database; then, only if nothing
is wrong, one short write that upserts by (township, 编码) and retires the items missing from the
file (see :func:`import_catalog` for the steps).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from content.models import CatalogItem, Township
from content.repository import bump_revision, get_or_create_township
from content.vocab import (
    AUDIENCE_ALL,
    AUDIENCE_GROUP_PREFIX,
    CATALOG_COLUMNS,
    CHANNELS,
    DOMAIN_NUMBERS,
    LEVELS,
    METHODS,
    TOWNSHIP_COLUMN,
)
from core.bulk import Batch, insert_batch, update_batch
from core.db import utcnow
from core.errors import Problem, Refused, ValidationFailed
from core.limits import MAX_TITLE_CHARS, column_limit
from core.tables import read_table, split_list

CODE_RE = re.compile(r"^\d{2}-\d{3}$")
RETIRE_SHARE = 0.2  # retiring more of a township's active items than this needs --allow-retire
FIELDS = (
    "domain",
    "group",
    "title",
    "elements",
    "basis",
    "time_limit",
    "publishers",
    "channels",
    "audience",
    "method",
    "levels",
)

# the longest text each narrow column takes (its database column's width where narrower)
WIDTHS = {
    "一级事项": column_limit(CatalogItem, "group"),
    "二级事项": column_limit(CatalogItem, "title", MAX_TITLE_CHARS),
    "公开时限": column_limit(CatalogItem, "time_limit"),
    "公开对象": column_limit(CatalogItem, "audience"),
    TOWNSHIP_COLUMN: column_limit(Township, "name"),
}


@dataclass(frozen=True)
class CatalogRow:
    line: int
    township: str | None
    code: str
    domain: str
    group: str
    title: str
    elements: list[str]
    basis: str
    time_limit: str
    publishers: list[str]
    channels: list[str]
    audience: str
    method: str
    levels: list[str]


@dataclass
class ImportReport:
    township_counts: dict[str, int] = field(default_factory=dict)
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    reactivated: list[str] = field(default_factory=list)
    unchanged: int = 0
    dry_run: bool = False
    active_before: dict[str, int] = field(default_factory=dict)  # active items per township before
    retire_warnings: list[str] = field(default_factory=list)  # townships that would lose > 20 %

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.retired or self.reactivated)

    @property
    def total(self) -> int:
        return sum(self.township_counts.values())


def parse_catalog(path: str | Path) -> list[CatalogRow]:
    """Read and validate every row; raise ValidationFailed listing every problem."""
    table = read_table(path, CATALOG_COLUMNS, optional=(TOWNSHIP_COLUMN,), limits=WIDTHS)
    file = table.file
    problems: list[Problem] = []
    rows: list[CatalogRow] = []
    seen_codes: dict[tuple[str | None, str], int] = {}
    seen_titles: dict[tuple[str | None, str], int] = {}

    for row in table.rows:
        v = row.values
        line = row.line
        before = len(problems)

        def bad(column: str, message: str, line: int = line) -> None:
            problems.append(Problem(file, line, column, message))

        for col in CATALOG_COLUMNS:
            if not v.get(col):
                bad(col, "必填项为空")
        township = v.get(TOWNSHIP_COLUMN) or None
        if TOWNSHIP_COLUMN in table.columns and not township:
            bad(TOWNSHIP_COLUMN, "必填项为空（文件含乡镇列时每行都要填写）")
        code = v.get("编码", "")
        if code and not CODE_RE.match(code):
            bad("编码", f"“{code}”格式不对，应为两位领域号-三位序号，如 19-003")
        elif code:
            key = (township, code)
            if key in seen_codes:
                bad("编码", f"“{code}”与第 {seen_codes[key]} 行重复")
            else:
                seen_codes[key] = line
        domain = v.get("试点领域", "")
        if domain and domain not in DOMAIN_NUMBERS:
            bad("试点领域", f"“{domain}”不是 26 个试点领域之一")
        elif domain and code and CODE_RE.match(code) and DOMAIN_NUMBERS[domain] != code[:2]:
            bad("编码", f"“{code}”的领域号与试点领域“{domain}”（{DOMAIN_NUMBERS[domain]}）不一致")
        title = v.get("二级事项", "")
        if title:
            tkey = (township, title)
            if tkey in seen_titles:
                bad("二级事项", f"“{title}”与第 {seen_titles[tkey]} 行重复")
            else:
                seen_titles[tkey] = line
        method = v.get("公开方式", "")
        if method and method not in METHODS:
            bad("公开方式", f"“{method}”无效，只能是 主动 或 依申请")
        levels = split_list(v.get("公开层级", ""), "；")
        if v.get("公开层级") and (
            not levels or any(lv not in LEVELS for lv in levels) or len(set(levels)) != len(levels)
        ):
            bad("公开层级", f"“{v['公开层级']}”无效，只能是 县级、乡级 或 县级；乡级")
        channels = split_list(v.get("公开渠道和载体", ""), "；")
        unknown = [c for c in channels if c not in CHANNELS]
        if unknown:
            bad("公开渠道和载体", "不是模板中的选项：" + "、".join(unknown))
        audience = v.get("公开对象", "")
        if audience and not (
            audience == AUDIENCE_ALL
            or (audience.startswith(AUDIENCE_GROUP_PREFIX) and len(audience) > len(AUDIENCE_GROUP_PREFIX))
        ):
            bad("公开对象", f"“{audience}”无效，应为 全社会 或 特定群体：<对象>")
        elements = split_list(v.get("公开内容（要素）", ""), "、")
        publishers = split_list(v.get("公开主体", ""), "；")
        if len(problems) > before:
            continue
        rows.append(
            CatalogRow(
                line=line,
                township=township,
                code=code,
                domain=domain,
                group=v["一级事项"],
                title=title,
                elements=elements,
                basis=v["公开依据"],
                time_limit=v["公开时限"],
                publishers=publishers,
                channels=[c for c in CHANNELS if c in channels],
                audience=audience,
                method=method,
                levels=[lv for lv in LEVELS if lv in levels],
            )
        )
    if problems:
        raise ValidationFailed(problems)
    return rows


def _values(row: CatalogRow) -> dict[str, object]:
    return {name: getattr(row, name) for name in FIELDS}


def _by_township(
    session: Session, path: str | Path, rows: list[CatalogRow], township: str | None
) -> dict[str, list[CatalogRow]]:
    file_has_townships = any(r.township for r in rows)
    if file_has_townships and township:
        raise ValidationFailed([Problem(str(path), None, TOWNSHIP_COLUMN, "文件已含乡镇列，不要再用 --township 指定")])
    if file_has_townships:
        grouped: dict[str, list[CatalogRow]] = {}
        for r in rows:
            grouped.setdefault(r.township or "", []).append(r)
        return grouped
    if not township:
        names = session.scalars(select(Township.name)).all()
        if len(names) != 1:
            known = "（现有：" + "、".join(names) + "）" if names else ""
            raise ValidationFailed([Problem(str(path), None, None, "请用 --township 指定目录所属乡镇" + known)])
        township = names[0]
    return {township: rows}


@dataclass
class _Writes:
    """What one township's import writes: decided from reads, written in one short transaction."""

    name: str
    township_id: int | None
    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)  # by primary key "id"


def _plan(session: Session, name: str, rows: list[CatalogRow], prefix: str, report: ImportReport) -> _Writes:
    """Compare the file with the township's items (reads only) and fill ``report``."""
    ts = get_or_create_township(session, name, create=False)
    writes = _Writes(name, ts.id if ts is not None else None)
    columns = [getattr(CatalogItem, f) for f in FIELDS]
    existing = (
        {
            r.code: r
            for r in session.execute(
                select(CatalogItem.id, CatalogItem.code, CatalogItem.status, *columns).where(
                    CatalogItem.township_id == ts.id
                )
            )
        }
        if ts is not None
        else {}
    )
    report.active_before[name] = sum(1 for r in existing.values() if r.status == "active")
    for row in rows:
        values = _values(row)
        old = existing.pop(row.code, None)
        if old is None:
            report.added.append(prefix + row.code)
            writes.inserts.append({"code": row.code, "status": "active", **values})
            continue
        if old.status != "active":
            report.reactivated.append(prefix + row.code)
        elif any(getattr(old, k) != v for k, v in values.items()):
            report.updated.append(prefix + row.code)
        else:
            report.unchanged += 1
            continue
        writes.updates.append({"id": old.id, "status": "active", **values})
    retired = [old for old in existing.values() if old.status == "active"]
    report.retired.extend(prefix + old.code for old in retired)
    writes.updates.extend({"id": old.id, "status": "retired"} for old in retired)
    active = report.active_before[name]
    if active and len(retired) > RETIRE_SHARE * active:
        report.retire_warnings.append(
            f"{name}：将停用现有 {active} 个事项中的 {len(retired)} 个（{len(retired) / active:.0%}），"
            f"超过 {RETIRE_SHARE:.0%}，文件可能不完整"
        )
    return writes


def _batches(session: Session, writes: _Writes) -> list[Batch]:
    """The township's writes as ready-made batches (see ``core.bulk``): built before any write."""
    dialect = session.get_bind().dialect
    target: Any = CatalogItem.__table__
    stamp = {"updated_at": utcnow()}
    full = ["status", *FIELDS, "updated_at"]
    changed = [{**v, **stamp} for v in writes.updates if len(v) > 2]
    retired = [{**v, **stamp} for v in writes.updates if len(v) <= 2]
    return [
        insert_batch(target, ["township_id", "code", *full], ({**v, **stamp} for v in writes.inserts), dialect),
        update_batch(target, full, changed, dialect),
        update_batch(target, ["status", "updated_at"], retired, dialect),
    ]


def _write(session: Session, plans: list[tuple[_Writes, list[Batch]]]) -> None:
    """The short write: from the first statement here to the caller's commit the write lock is held."""
    for writes, batches in plans:
        township_id = writes.township_id
        if township_id is None:
            ts = get_or_create_township(session, writes.name)
            assert ts is not None
            township_id = ts.id
        batches[0].fill("township_id", township_id)
        conn = session.connection()
        for batch in batches:
            batch.run(conn)
    bump_revision(session)


def import_catalog(
    session: Session,
    path: str | Path,
    *,
    township: str | None = None,
    dry_run: bool = False,
    allow_retire: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Validate then upsert the catalog. With ``dry_run`` nothing is written.

    1. Read and validate the whole file (no database access).
    2. Compare it with the database (reads only) into the report and a list of writes.
    3. Refuse, unless ``allow_retire``, when more than 20 % of a township's active items would
       be retired: a partial file is a mistake far more often than a policy change.
    4. Write everything at once: bulk INSERT and bulk UPDATE by primary key. The write lock is
       held only for this step (on SQLite, from the first INSERT or UPDATE to the caller's commit).
    5. Bump the content revision only when something changed.
    """
    rows = parse_catalog(path)
    by_township = _by_township(session, path, rows, township)
    report = ImportReport(dry_run=dry_run)
    plans: list[_Writes] = []
    done = 0
    for name, trows in by_township.items():
        report.township_counts[name] = len(trows)
        plans.append(_plan(session, name, trows, f"{name}/" if len(by_township) > 1 else "", report))
        done += len(trows)
        if progress:
            progress(done, len(rows))
    if dry_run:
        return report
    if report.retire_warnings and not allow_retire:
        raise Refused("；".join(report.retire_warnings) + "。确认要停用时加 --allow-retire；先看清单可加 --dry-run")
    if not report.changed:
        return report
    _write(session, [(writes, _batches(session, writes)) for writes in plans])
    return report
