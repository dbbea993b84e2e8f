"""Markdown tables turned into sentences a listener can follow, or, for lists of people, a summary.

A table row is read as its label and its cells with their units (芒洪村，476户，补贴金额126,672.00元); numbers
are left in Arabic form for ``push.speech.numbers`` to read. A table whose columns include a person's name
(姓名, 户主, 申请人, 救助对象 …) is never read: it becomes a count, a total and where the full list is posted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from push.speech.privacy import is_person_heading

_NUMERIC = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$|^\d+(?:\.\d+)?$")
_HEADING_UNIT = re.compile(r"^(?P<name>.*?)[（(](?P<unit>[^（）()]+)[）)]$")
_EMPTY = {"", "—", "-", "－", "——", "/", "无"}
_TOTAL_WORDS = ("合计", "总计", "小计")


@dataclass(frozen=True)
class Column:
    """A column heading split into its name and unit: 补贴面积（亩） → 补贴面积, 亩; 基本生活费（元/月） → 元 per 月."""

    name: str
    unit: str = ""
    per: str = ""

    @classmethod
    def parse(cls, heading: str, default_unit: str = "") -> Column:
        heading = heading.strip()
        match = _HEADING_UNIT.match(heading)
        name, unit = (match["name"], match["unit"]) if match else (heading, "")
        per = ""
        if "/" in unit:
            unit, _, per = unit.partition("/")
        if not unit and ("金额" in name or name.endswith(("费", "款", "资金"))):
            unit = default_unit or "元"
        elif not unit:
            unit = default_unit if name in ("金额", "数额") else ""
        return cls(name=name.strip(), unit=unit.strip(), per=per.strip())

    def amount(self, value: str) -> str:
        """``value`` with its unit as it should be heard: 631 with 元/月 → 每月631元."""
        value = value.replace("，", ",")
        if _NUMERIC.match(value):
            return f"{'每' + self.per if self.per else ''}{value}{self.unit}"
        return value


@dataclass(frozen=True)
class Table:
    headings: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    @classmethod
    def parse(cls, lines: Sequence[str]) -> Table:
        """Parse the lines of a Markdown pipe table (the separator line ``|---|`` is skipped)."""
        cells = [_split_row(line) for line in lines if line.strip()]
        cells = [row for row in cells if not all(re.fullmatch(r":?-{2,}:?", c.strip()) for c in row if c.strip())]
        if not cells:
            return cls(headings=(), rows=())
        width = len(cells[0])
        rows = tuple(tuple((row + [""] * width)[:width]) for row in cells[1:])
        return cls(headings=tuple(cells[0]), rows=rows)

    @property
    def lists_people(self) -> bool:
        return any(is_person_heading(h) for h in self.headings)

    def data_rows(self) -> list[tuple[str, ...]]:
        return [row for row in self.rows if not _is_total(row)]

    def total_row(self) -> tuple[str, ...] | None:
        return next((row for row in self.rows if _is_total(row)), None)


def _split_row(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|"):
        line = line[:-1]
    return [cell.strip() for cell in line.split("|")]


def _is_total(row: Sequence[str]) -> bool:
    return any(word in cell for cell in row[:2] for word in _TOTAL_WORDS)


def table_sentences(table: Table, *, default_unit: str = "") -> list[str]:
    """One sentence per row: label first, then each cell with its column name and unit."""
    columns = [Column.parse(h, default_unit) for h in table.headings]
    label_index = 1 if columns and columns[0].name in ("序号", "编号") and len(columns) > 1 else 0
    two_columns = len(columns) - label_index == 2
    sentences = []
    for row in table.rows:
        label = row[label_index].strip()
        parts = [label] if label not in _EMPTY else []
        for column, value in zip(columns[label_index + 1 :], row[label_index + 1 :], strict=False):
            value = value.strip()
            if value in _EMPTY:
                continue
            parts.append(_cell(column, value, bare=two_columns))
        if parts:
            sentences.append("，".join(parts) + "。")
    return sentences


def _cell(column: Column, value: str, *, bare: bool) -> str:
    name = column.name
    if _NUMERIC.match(value):
        if name.endswith("户数"):
            return f"{value}户"
        if name.endswith("人数") and not column.unit:
            return f"{value}人"
        spoken = column.amount(value)
        return spoken if bare else f"{name}{spoken}"
    if bare or value.startswith(name) or not name:
        return value
    return f"{name}{value}"


def summarise_people(table: Table, *, posted_at: Sequence[str] = ("村公示栏",)) -> list[str]:
    """A list of people read as a count, a total amount and where the full list is posted; no names."""
    columns = [Column.parse(h) for h in table.headings]
    rows = table.data_rows()
    total = table.total_row()
    noun = "户" if any("户主" in h or "户名" in h for h in table.headings) else "人"
    if total and any("人次" in cell for cell in total):
        noun = "人次"
    sentence = f"本次公示对象共{len(rows)}{noun}"
    money = [i for i, c in enumerate(columns) if c.unit.startswith("元")]
    if money:
        index = next((i for i in money if "合计" in columns[i].name), money[-1])
        column = columns[index]
        amount = _column_total(rows, total, index)
        if amount is not None:
            label = column.name if "合计" in column.name else f"{column.name}合计"
            sentence += f"，{label}{column.amount(amount)}"
    where = "、".join(posted_at)
    return [
        sentence + "。",
        f"为保护个人隐私，名单不在广播中播报，完整名单已在{where}公布，请到{posted_at[0]}查看。",
    ]


def _column_total(rows: Sequence[Sequence[str]], total: Sequence[str] | None, index: int) -> str | None:
    if total is not None and index < len(total) and _NUMERIC.match(total[index].strip()):
        return total[index].strip()
    values = [row[index].replace(",", "") for row in rows if index < len(row) and _NUMERIC.match(row[index].strip())]
    if not values:
        return None
    summed = sum(float(v) for v in values)
    return f"{summed:.2f}" if any("." in v for v in values) else str(round(summed))
