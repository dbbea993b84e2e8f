"""The consistency checker: a village's disclosure list against its township's catalog.

The six defect kinds of the data README §5, evaluated as of a date:

- 编码不存在   a non-empty 对应目录编码 that is not an active catalog code (no content/limit comparison);
- 重复事项     the second and later rows with the same code (only the first is compared);
- 内容缺项     catalog elements missing from the row (one defect per row, naming every missing element);
- 时限放宽     the row's 公开时限 is looser than the catalog's, within the same kind (§6);
- 必备事项缺失 a must-carry catalog code on no row (``row`` is None);
- 逾期未公开   a periodic row (effective period: the shorter of the row's and the catalog's) whose last
               disclosure is older than period + 15 days, or missing.

When a time limit cannot be compared automatically (different kinds, or a phrase the parser does not
know) the finding ``需人工判定`` is reported: it is not one of the six defects but a person must look.
Every ``detail`` starts with the catalog code (or, for self-governance rows, the item's name) and says,
in words a village cadre reads, what is wrong and what to do.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from sqlalchemy.orm import Session

from content.models import CatalogItem
from content.repository import list_items
from content.vocab import is_must_carry
from village_lists.models import ListRow, Village
from village_lists.repository import get_village, list_rows, list_villages
from village_lists.timelimits import Comparison, TimeLimit, TimeLimitError, compare, parse_time_limit, period_days

UNKNOWN_CODE = "编码不存在"
MISSING_ELEMENTS = "内容缺项"
LOOSER_LIMIT = "时限放宽"
MISSING_MUST_CARRY = "必备事项缺失"
OVERDUE = "逾期未公开"
DUPLICATE = "重复事项"
NEEDS_REVIEW = "需人工判定"
DEFECT_KINDS = (UNKNOWN_CODE, MISSING_ELEMENTS, LOOSER_LIMIT, MISSING_MUST_CARRY, OVERDUE, DUPLICATE)
GRACE_DAYS = 15

_PERIOD_NAMES = {7: "每周", 31: "每月", 92: "每季度", 183: "每半年", 366: "每年"}
_KIND_ORDER = {kind: i for i, kind in enumerate((*DEFECT_KINDS, NEEDS_REVIEW))}


@dataclass(frozen=True)
class Defect:
    """One finding: which village, which row (None for a missing item), what kind, which code, and why."""

    village: str
    row: int | None
    kind: str
    code: str | None
    detail: str
    title: str = ""

    def as_dict(self) -> dict[str, object]:
        """The JSON shape of ``cunwu village check --json``."""
        data = asdict(self)
        data.pop("title")
        return data

    @property
    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.village, self.row if self.row is not None else 1_000_000, _KIND_ORDER[self.kind], self.code or "")


def _period_name(days: int) -> str:
    return _PERIOD_NAMES.get(days, f"每{days}天")


def _parse(text: str) -> TimeLimit | None:
    try:
        return parse_time_limit(text)
    except TimeLimitError:
        return None


class _VillageCheck:
    """The checks of one village's list; ``run`` returns the findings sorted by row."""

    def __init__(self, village: Village, rows: list[ListRow], catalog: list[CatalogItem], today: dt.date) -> None:
        self.village = village
        self.rows = rows
        self.today = today
        self.active = {it.code: it for it in catalog if it.status == "active"}
        self.retired = {it.code for it in catalog if it.status != "active"}
        self.defects: list[Defect] = []

    def add(self, row: ListRow | None, kind: str, code: str | None, detail: str) -> None:
        title = row.title if row is not None else (self.active[code].title if code in self.active else "")
        self.defects.append(Defect(self.village.code, row.seq if row else None, kind, code, detail, title))

    def run(self) -> list[Defect]:
        first_row: dict[str, ListRow] = {}
        for row in self.rows:
            code = row.catalog_code.strip()
            item: CatalogItem | None = None
            if code and code not in self.active:
                self._unknown_code(row, code)
            elif code and code in first_row:
                first = first_row[code]
                self.add(
                    row,
                    DUPLICATE,
                    code,
                    f"{code} {row.title}：与第{first.seq}行（{first.title}）对应同一个目录事项，同一事项只应列一次。"
                    f"如果两行确是同一事项，请删去第{row.seq}行；如果是另一个事项，请改正第{row.seq}行的目录编码。",
                )
                item = self.active[code]
            elif code:
                first_row[code] = row
                item = self.active[code]
                self._content(row, item)
                self._time_limit(row, item)
            self._overdue(row, item)
        self._must_carry(first_row)
        return sorted(self.defects, key=lambda d: d.sort_key)

    def _unknown_code(self, row: ListRow, code: str) -> None:
        if code in self.retired:
            why = "该目录事项已停用"
        elif len(code) != 6 or code[2] != "-":
            why = "编码格式不对（应为两位领域号-三位序号，如 05-004），目录中无此编码"
        else:
            why = "目录中没有这个编码"
        self.add(
            row,
            UNKNOWN_CODE,
            code,
            f"{code} {row.title}：{why}。请对照乡镇目录找到对应事项，改正第{row.seq}行的对应目录编码；"
            "如果是村民自治事项，请把编码留空。",
        )

    def _content(self, row: ListRow, item: CatalogItem) -> None:
        have = set(row.elements)
        missing = [e for e in item.elements if e not in have]
        if missing:
            names = "".join(f"“{e}”" for e in missing)
            self.add(
                row,
                MISSING_ELEMENTS,
                item.code,
                f"{item.code} {row.title}：缺少目录要素{names}。请在公开内容中补上这些项目，公示时一并写明。",
            )

    def _time_limit(self, row: ListRow, item: CatalogItem) -> None:
        village_tl, catalog_tl = _parse(row.time_limit), _parse(item.time_limit)
        if village_tl is None or catalog_tl is None:
            bad = row.time_limit if village_tl is None else item.time_limit
            self.add(
                row,
                NEEDS_REVIEW,
                item.code,
                f"{item.code} {row.title}：公开时限“{bad}”无法自动识别，无法与目录比对，请人工核对。",
            )
            return
        result = compare(village_tl, catalog_tl)
        if result is Comparison.LOOSER:
            self.add(
                row,
                LOOSER_LIMIT,
                item.code,
                f"{item.code} {row.title}：目录要求“{item.time_limit}”，清单写为“{row.time_limit}”，比目录宽松。"
                f"请把公开时限改为“{item.time_limit}”（或更严格），并按新时限公开。",
            )
        elif result is Comparison.NOT_COMPARABLE:
            self.add(
                row,
                NEEDS_REVIEW,
                item.code,
                f"{item.code} {row.title}：清单时限“{row.time_limit}”与目录时限“{item.time_limit}”类别不同，"
                "不能自动比较，请人工判定是否放宽。",
            )

    def _overdue(self, row: ListRow, item: CatalogItem | None) -> None:
        village_tl = _parse(row.time_limit)
        village_period = period_days(village_tl) if village_tl is not None else None
        if not village_period:
            return
        catalog_tl = _parse(item.time_limit) if item is not None else None
        catalog_period = period_days(catalog_tl) if catalog_tl is not None else None
        period = min(village_period, catalog_period) if catalog_period else village_period
        label = f"{row.catalog_code} {row.title}" if row.catalog_code else row.title
        rule = f"应{_period_name(period)}公开一次（{period}天，另有{GRACE_DAYS}天宽限）"
        if row.last_disclosed is None:
            self.add(
                row,
                OVERDUE,
                row.catalog_code or None,
                f"{label}：{rule}，清单中没有最近公开日期。请尽快公开，并在清单中填上公开日期。",
            )
            return
        days = (self.today - row.last_disclosed).days
        if days > period + GRACE_DAYS:
            self.add(
                row,
                OVERDUE,
                row.catalog_code or None,
                f"{label}：{rule}，最近公开日期{row.last_disclosed.isoformat()}，"
                f"至{self.today.isoformat()}已{days}天未公开。请尽快公开最新内容，并更新清单中的最近公开日期。",
            )

    def _must_carry(self, listed: dict[str, ListRow]) -> None:
        for code, item in sorted(self.active.items()):
            if code in listed or not is_must_carry(item.levels, item.channels, item.method):
                continue
            self.add(
                None,
                MISSING_MUST_CARRY,
                code,
                f"{code} {item.title}：这是乡镇目录规定每个村都必须在村公示栏公开的事项，清单中没有。"
                f"请在清单中增加这一项（公开内容：{'、'.join(item.elements)}；公开时限：{item.time_limit}）。",
            )


def check_village(session: Session, code: str, today: dt.date) -> list[Defect]:
    """Every finding for one village's list as of ``today``, sorted by row (missing items last)."""
    village = get_village(session, code)
    catalog = list_items(session, township=village.township.name, include_retired=True)
    return _VillageCheck(village, list_rows(session, village.code), catalog, today).run()


def check_all(session: Session, today: dt.date, *, township: str | None = None) -> list[Defect]:
    """Every finding for every village (of one township, when named)."""
    out: list[Defect] = []
    for village in list_villages(session, township=township):
        out.extend(check_village(session, village.code, today))
    return out


def overdue_rows(defects: list[Defect]) -> set[int]:
    """The 序号 of the rows reported 逾期未公开."""
    return {d.row for d in defects if d.kind == OVERDUE and d.row is not None}
