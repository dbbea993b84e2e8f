"""Import of villages (villages.csv) and of village disclosure lists (村务公开事项清单).

As for the catalog: every row is validated first and every problem reported with its line; only
when nothing is wrong is anything written, in the caller's transaction. A list import replaces the
village's list: rows are upserted by 序号 and rows missing from the file are removed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from content.models import Township
from content.repository import bump_revision, get_or_create_township
from core.errors import Problem, ValidationFailed
from core.limits import MAX_TITLE_CHARS, column_limit
from core.tables import read_table, split_list
from village_lists.models import ListRow, Village
from village_lists.timelimits import TimeLimitError, parse_time_limit

VILLAGE_COLUMNS = ("村编码", "村名", "乡镇", "户数", "人口", "主要语言", "村民小组", "微信群", "广播分区")
LIST_COLUMNS = ("序号", "公开事项", "公开内容", "公开时限", "公开渠道", "责任人", "对应目录编码", "最近公开日期")
LIST_CHANNELS = ("村公示栏", "村民微信群", "公众号", "广播", "入户宣传")
VILLAGE_CODE_RE = re.compile(r"^[A-Z0-9]{2,16}$")
LIST_SUFFIXES = (".csv", ".xlsx")
# the longest text each narrow column takes (its database column's width where narrower)
LIST_WIDTHS = {
    "公开事项": column_limit(ListRow, "title", MAX_TITLE_CHARS),
    "公开时限": column_limit(ListRow, "time_limit"),
    "责任人": column_limit(ListRow, "responsible"),
    "对应目录编码": column_limit(ListRow, "catalog_code"),
}
VILLAGE_WIDTHS = {"村名": column_limit(Village, "name"), "乡镇": column_limit(Township, "name")}
_LIST_FIELDS = ("title", "elements", "time_limit", "channels", "responsible", "catalog_code", "last_disclosed")


@dataclass
class VillageImportReport:
    codes: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0


@dataclass(frozen=True)
class ListRowData:
    """One validated row of a village list file."""

    line: int
    seq: int
    title: str
    elements: list[str]
    time_limit: str
    channels: list[str]
    responsible: str
    catalog_code: str
    last_disclosed: dt.date | None

    def values(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in _LIST_FIELDS}


@dataclass
class ListImportReport:
    village: str
    file: str
    rows: int = 0
    added: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


# ------------------------------------------------------------------------------------------- villages


@dataclass(frozen=True)
class _VillageData:
    line: int
    code: str
    name: str
    township: str
    households: int
    population: int
    languages: list[str]
    groups: list[str]
    wechat_groups: list[str]
    loudspeaker_zones: list[str]


def _count(value: str, column: str, problems: list[Problem], file: str, line: int) -> int:
    text = value.replace(",", "").strip()
    if not text.isdigit():
        problems.append(Problem(file, line, column, f"“{value}”不是非负整数"))
        return 0
    return int(text)


def parse_villages(path: str | Path) -> list[_VillageData]:
    table = read_table(path, VILLAGE_COLUMNS, limits=VILLAGE_WIDTHS)
    file = table.file
    problems: list[Problem] = []
    out: list[_VillageData] = []
    seen: dict[str, int] = {}
    names: dict[tuple[str, str], int] = {}
    for row in table.rows:
        v, line = row.values, row.line
        before = len(problems)
        for col in ("村编码", "村名", "乡镇"):
            if not v.get(col):
                problems.append(Problem(file, line, col, "必填项为空"))
        code = v.get("村编码", "").upper()
        if code and not VILLAGE_CODE_RE.match(code):
            problems.append(Problem(file, line, "村编码", f"“{v['村编码']}”格式不对，应为字母和数字，如 QH01"))
        elif code in seen:
            problems.append(Problem(file, line, "村编码", f"“{code}”与第 {seen[code]} 行重复"))
        elif code:
            seen[code] = line
        key = (v.get("乡镇", ""), v.get("村名", ""))
        if all(key) and key in names:
            problems.append(Problem(file, line, "村名", f"“{key[1]}”与第 {names[key]} 行同名"))
        elif all(key):
            names[key] = line
        households = _count(v.get("户数") or "0", "户数", problems, file, line)
        population = _count(v.get("人口") or "0", "人口", problems, file, line)
        if len(problems) > before:
            continue
        out.append(
            _VillageData(
                line=line,
                code=code,
                name=v["村名"],
                township=v["乡镇"],
                households=households,
                population=population,
                languages=split_list(v.get("主要语言", ""), "；"),
                groups=split_list(v.get("村民小组", ""), "；"),
                wechat_groups=split_list(v.get("微信群", ""), "；"),
                loudspeaker_zones=split_list(v.get("广播分区", ""), "；"),
            )
        )
    if problems:
        raise ValidationFailed(problems)
    return out


def import_villages(session: Session, path: str | Path) -> VillageImportReport:
    """Validate then upsert villages by 村编码; each village's township is found or created by name."""
    rows = parse_villages(path)
    report = VillageImportReport()
    for r in rows:
        township = get_or_create_township(session, r.township)
        assert township is not None
        values = {
            "name": r.name,
            "township_id": township.id,
            "households": r.households,
            "population": r.population,
            "languages": r.languages,
            "groups": r.groups,
            "wechat_groups": r.wechat_groups,
            "loudspeaker_zones": r.loudspeaker_zones,
        }
        village = session.get(Village, r.code)
        report.codes.append(r.code)
        if village is None:
            session.add(Village(code=r.code, **values))
            report.added.append(r.code)
            continue
        if any(getattr(village, k) != val for k, val in values.items()):
            report.updated.append(r.code)
            for k, val in values.items():
                setattr(village, k, val)
        else:
            report.unchanged += 1
    session.flush()
    if report.added or report.updated:
        bump_revision(session)
    return report


# ---------------------------------------------------------------------------------------------- lists


def _parse_date(value: str) -> dt.date | None:
    text = value.strip().replace("/", "-").replace(".", "-")
    m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text) or re.fullmatch(r"(\d{4})年(\d{1,2})月(\d{1,2})日", text)
    if not m:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def parse_list(path: str | Path) -> list[ListRowData]:
    """Read and validate every row of one village list file; raise ValidationFailed listing every problem."""
    table = read_table(path, LIST_COLUMNS, limits=LIST_WIDTHS)
    file = table.file
    problems: list[Problem] = []
    out: list[ListRowData] = []
    seqs: dict[int, int] = {}
    for row in table.rows:
        v, line = row.values, row.line
        before = len(problems)

        def bad(column: str, message: str, line: int = line) -> None:
            problems.append(Problem(file, line, column, message))

        for col in ("序号", "公开事项", "公开内容", "公开时限", "公开渠道"):
            if not v.get(col):
                bad(col, "必填项为空")
        seq_text = v.get("序号", "")
        seq = int(seq_text) if seq_text.isdigit() else 0
        if seq_text and seq <= 0:
            bad("序号", f"“{seq_text}”不是正整数")
        elif seq in seqs:
            bad("序号", f"“{seq}”与第 {seqs[seq]} 行重复")
        elif seq:
            seqs[seq] = line
        limit = v.get("公开时限", "")
        if limit:
            try:
                parse_time_limit(limit)
            except TimeLimitError as exc:
                bad("公开时限", exc.message)
        channels = split_list(v.get("公开渠道", ""), "；")
        unknown = [c for c in channels if c not in LIST_CHANNELS]
        if unknown:
            bad("公开渠道", "不是可选的渠道：" + "、".join(unknown) + "（可选：" + "；".join(LIST_CHANNELS) + "）")
        date_text = v.get("最近公开日期", "")
        last = _parse_date(date_text) if date_text else None
        if date_text and last is None:
            bad("最近公开日期", f"“{date_text}”不是有效日期，应为 YYYY-MM-DD，如 2026-10-13；尚未公开的留空")
        if len(problems) > before:
            continue
        out.append(
            ListRowData(
                line=line,
                seq=seq,
                title=v["公开事项"],
                elements=split_list(v["公开内容"], "、"),
                time_limit=limit,
                channels=[c for c in LIST_CHANNELS if c in channels],
                responsible=v.get("责任人", ""),
                catalog_code=v.get("对应目录编码", "").strip(),
                last_disclosed=last,
            )
        )
    if problems:
        raise ValidationFailed(problems)
    return out


def _unknown_village(session: Session, code: str, file: str) -> Problem | None:
    if session.get(Village, code) is None:
        return Problem(file, None, None, f"没有编码为 {code} 的村，请先导入村庄（cunwu village import villages.csv）")
    return None


def _write_list(session: Session, code: str, file: str, rows: list[ListRowData]) -> ListImportReport:
    report = ListImportReport(village=code, file=file, rows=len(rows))
    existing = {r.seq: r for r in session.scalars(select(ListRow).where(ListRow.village_code == code))}
    for r in rows:
        values = r.values()
        old = existing.pop(r.seq, None)
        if old is None:
            session.add(ListRow(village_code=code, seq=r.seq, **values))
            report.added.append(r.seq)
        elif any(getattr(old, k) != val for k, val in values.items()):
            for k, val in values.items():
                setattr(old, k, val)
            report.updated.append(r.seq)
        else:
            report.unchanged += 1
    for seq, old in sorted(existing.items()):
        session.delete(old)
        report.removed.append(seq)
    session.flush()
    return report


def import_list(session: Session, code: str, path: str | Path) -> ListImportReport:
    """Replace one village's list with the file's rows (CSV in UTF-8/BOM/GBK, or XLSX)."""
    code = code.strip().upper()
    file = str(path)
    missing = _unknown_village(session, code, file)
    if missing:
        raise ValidationFailed([missing])
    rows = parse_list(path)
    report = _write_list(session, code, file, rows)
    if report.changed:
        bump_revision(session)
    return report


def list_files(folder: str | Path) -> list[Path]:
    """The list files of a folder: ``<村编码>.csv`` or ``.xlsx``, in name order."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in LIST_SUFFIXES)


def import_list_dir(session: Session, folder: str | Path) -> list[ListImportReport]:
    """Import every ``<村编码>.csv|.xlsx`` of a folder, all or nothing: any problem in any file writes none."""
    base = Path(folder)
    if not base.is_dir():
        raise ValidationFailed([Problem(str(folder), None, None, "文件夹不存在")])
    files = list_files(base)
    if not files:
        raise ValidationFailed([Problem(str(folder), None, None, "文件夹里没有 <村编码>.csv 或 .xlsx 清单文件")])
    problems: list[Problem] = []
    parsed: list[tuple[str, Path, list[ListRowData]]] = []
    seen: dict[str, Path] = {}
    for path in files:
        code = path.stem.strip().upper()
        if code in seen:
            problems.append(Problem(str(path), None, None, f"与 {seen[code].name} 是同一个村的清单，只保留一个"))
            continue
        seen[code] = path
        missing = _unknown_village(session, code, str(path))
        if missing:
            problems.append(missing)
            continue
        try:
            parsed.append((code, path, parse_list(path)))
        except ValidationFailed as exc:
            problems.extend(exc.problems)
    if problems:
        raise ValidationFailed(problems)
    reports = [_write_list(session, code, str(path), rows) for code, path, rows in parsed]
    if any(r.changed for r in reports):
        bump_revision(session)
    return reports
