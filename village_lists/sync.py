"""Sync: the changes that make a village's list consistent with the township catalog.

:func:`plan_sync` turns the checker's findings into proposed changes:

- 必备事项缺失 → add a row from the catalog item (title, elements, time limit; channel 村公示栏);
  its 最近公开日期 stays empty — a date is never invented, so a periodic new row shows as overdue
  until the village discloses it;
- 内容缺项     → append the missing catalog elements (the village's own extra elements stay);
- 时限放宽     → replace the time limit by the catalog's;
- 重复事项     → drop the later row (the first row of the code is kept).

Everything else is left for a person and listed in ``plan.unresolved``: unknown codes, overdue
disclosures, time limits that need manual review. Self-governance rows (no catalog code) are never
changed. Existing rows keep their 序号; new rows are numbered after the last kept row.
:func:`apply_sync` writes a plan in the caller's transaction after checking the list has not changed
since the plan was made.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from content.repository import bump_revision, list_items
from core.errors import AppError
from village_lists.checker import (
    DUPLICATE,
    LOOSER_LIMIT,
    MISSING_ELEMENTS,
    MISSING_MUST_CARRY,
    Defect,
    check_village,
)
from village_lists.models import ListRow
from village_lists.repository import get_village, list_rows

NEW_ROW_CHANNELS = ["村公示栏"]


class SyncConflict(AppError):
    """The list changed between planning and applying a sync."""


@dataclass(frozen=True)
class AddRow:
    seq: int
    code: str
    title: str
    elements: list[str]
    time_limit: str
    channels: list[str]


@dataclass(frozen=True)
class SetElements:
    seq: int
    code: str
    title: str
    before: list[str]
    after: list[str]

    @property
    def added(self) -> list[str]:
        return [e for e in self.after if e not in self.before]


@dataclass(frozen=True)
class SetTimeLimit:
    seq: int
    code: str
    title: str
    before: str
    after: str


@dataclass(frozen=True)
class DropRow:
    seq: int
    code: str
    title: str
    duplicate_of: int
    elements: list[str]
    time_limit: str
    last_disclosed: dt.date | None


Change = AddRow | SetElements | SetTimeLimit | DropRow


@dataclass
class SyncPlan:
    village: str
    village_name: str
    today: dt.date
    changes: list[Change] = field(default_factory=list)
    unresolved: list[Defect] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.changes

    def diff(self) -> str:
        """A readable diff of the proposed changes and the findings left for a person."""
        lines = [f"{self.village} {self.village_name} 清单同步方案（基准日 {self.today.isoformat()}）"]
        if not self.changes:
            lines.append("无需修改：清单与目录一致。")
        for ch in self.changes:
            if isinstance(ch, AddRow):
                lines.append(f"+ 第{ch.seq}行（新增必备事项）{ch.code} {ch.title}")
                lines.append(f"+     公开内容：{'、'.join(ch.elements)}")
                lines.append(f"+     公开时限：{ch.time_limit}    公开渠道：{'；'.join(ch.channels)}")
                lines.append("+     最近公开日期：（空，公开后请填写）    责任人：（空，请指定）")
            elif isinstance(ch, SetElements):
                lines.append(f"~ 第{ch.seq}行 {ch.code} {ch.title}：补上公开内容 {'、'.join(ch.added)}")
                lines.append(f"-     公开内容：{'、'.join(ch.before)}")
                lines.append(f"+     公开内容：{'、'.join(ch.after)}")
            elif isinstance(ch, SetTimeLimit):
                lines.append(f"~ 第{ch.seq}行 {ch.code} {ch.title}：公开时限改为目录要求")
                lines.append(f"-     公开时限：{ch.before}")
                lines.append(f"+     公开时限：{ch.after}")
            else:
                last = ch.last_disclosed.isoformat() if ch.last_disclosed else "无"
                lines.append(f"- 第{ch.seq}行（删除，与第{ch.duplicate_of}行重复）{ch.code} {ch.title}")
                lines.append(f"-     公开内容：{'、'.join(ch.elements)}")
                lines.append(f"-     公开时限：{ch.time_limit}；最近公开日期：{last}")
                lines.append("      如果这一行其实是另一个事项，请不要应用本方案，先改正它的目录编码。")
        if self.unresolved:
            lines.append("")
            lines.append("以下问题需要人工处理，同步不会修改：")
            for d in self.unresolved:
                where = f"第{d.row}行" if d.row is not None else "清单"
                lines.append(f"! {where} {d.kind}：{d.detail}")
        return "\n".join(lines)


def plan_sync(session: Session, code: str, today: dt.date) -> SyncPlan:
    """The changes that would make the village's list consistent with the catalog; nothing is written."""
    village = get_village(session, code)
    rows = {r.seq: r for r in list_rows(session, village.code)}
    catalog = {it.code: it for it in list_items(session, township=village.township.name)}
    plan = SyncPlan(village.code, village.name, today)
    defects = check_village(session, village.code, today)
    dropped: set[int] = set()
    for d in defects:
        row = rows.get(d.row) if d.row is not None else None
        if row is not None and not row.catalog_code:  # self-governance rows are never changed
            plan.unresolved.append(d)
        elif d.kind == MISSING_ELEMENTS and row is not None and d.code in catalog:
            missing = [e for e in catalog[d.code].elements if e not in row.elements]
            plan.changes.append(SetElements(row.seq, d.code, row.title, list(row.elements), [*row.elements, *missing]))
        elif d.kind == LOOSER_LIMIT and row is not None and d.code in catalog:
            plan.changes.append(SetTimeLimit(row.seq, d.code, row.title, row.time_limit, catalog[d.code].time_limit))
        elif d.kind == DUPLICATE and row is not None and d.code:
            first = min(r.seq for r in rows.values() if r.catalog_code == d.code)
            plan.changes.append(
                DropRow(row.seq, d.code, row.title, first, list(row.elements), row.time_limit, row.last_disclosed)
            )
            dropped.add(row.seq)
        elif d.kind != MISSING_MUST_CARRY:
            plan.unresolved.append(d)
    next_seq = max((s for s in rows if s not in dropped), default=0) + 1
    for d in defects:
        if d.kind == MISSING_MUST_CARRY and d.code in catalog:
            item = catalog[d.code]
            plan.changes.append(
                AddRow(next_seq, item.code, item.title, list(item.elements), item.time_limit, list(NEW_ROW_CHANNELS))
            )
            next_seq += 1
    return plan


def _still_applies(ch: Change, rows: dict[int, ListRow], dropped: set[int]) -> bool:
    """Whether the list still looks as it did when the change was planned."""
    row = rows.get(ch.seq)
    if isinstance(ch, AddRow):
        free = row is None or ch.seq in dropped
        return free and not any(r.catalog_code == ch.code for r in rows.values() if r.seq not in dropped)
    if row is None or row.catalog_code != ch.code:
        return False
    if isinstance(ch, SetElements):
        return list(row.elements) == ch.before
    if isinstance(ch, SetTimeLimit):
        return row.time_limit == ch.before
    return True


def apply_sync(session: Session, plan: SyncPlan) -> int:
    """Write the plan's changes (in the caller's transaction); returns how many were made.

    Raises :class:`SyncConflict` when a row no longer looks as it did when the plan was made.
    """
    rows = {r.seq: r for r in list_rows(session, plan.village)}
    dropped = {ch.seq for ch in plan.changes if isinstance(ch, DropRow)}
    for ch in plan.changes:
        if not _still_applies(ch, rows, dropped):
            raise SyncConflict(
                f"{plan.village} 第{ch.seq}行在生成同步方案之后已被修改，请重新运行 cunwu village sync 查看新方案"
            )
    for ch in plan.changes:
        if isinstance(ch, DropRow):
            session.delete(rows[ch.seq])
    session.flush()
    for ch in plan.changes:
        if isinstance(ch, SetElements):
            rows[ch.seq].elements = list(ch.after)
        elif isinstance(ch, SetTimeLimit):
            rows[ch.seq].time_limit = ch.after
        elif isinstance(ch, AddRow):
            session.add(
                ListRow(
                    village_code=plan.village,
                    seq=ch.seq,
                    title=ch.title,
                    elements=list(ch.elements),
                    time_limit=ch.time_limit,
                    channels=list(ch.channels),
                    responsible="",
                    catalog_code=ch.code,
                    last_disclosed=None,
                    note=f"{plan.today.isoformat()} 按乡镇目录同步新增",
                )
            )
    session.flush()
    if plan.changes:
        bump_revision(session)
    return len(plan.changes)
