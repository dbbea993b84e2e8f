"""Exports of a village's list: CSV and XLSX for the village office, an A4 HTML notice-board sheet.

CSV and XLSX carry exactly the import columns (序号…最近公开日期), so an exported file imports back
unchanged. Text cells that a spreadsheet would run as a formula get the OWASP guard (``core.cells``),
which the importer removes again. An export never overwrites the database, nor a file that is not
an earlier export of the same kind unless forced.

The HTML sheet is the 村公示栏 copy: village name, date, items grouped (self-governance first, then
by catalog domain), last-disclosed dates, overdue items marked; ``@media print`` fits A4.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape
from pathlib import Path

from content.vocab import DOMAINS
from core.cells import neutralise
from core.errors import Refused
from village_lists.importer import LIST_COLUMNS
from village_lists.models import ListRow, Village

SELF_GOVERNANCE = "村务公开（村民自治事项）"
FORMATS = ("csv", "xlsx", "html")
HTML_GENERATOR = '<meta name="generator" content="cunwu village export">'
_SHEET_TITLE_FORBIDDEN = str.maketrans({c: "_" for c in "[]:*?/\\"})


def row_values(row: ListRow) -> list[str | int]:
    """One row in the order of :data:`LIST_COLUMNS`."""
    return [
        row.seq,
        row.title,
        "、".join(row.elements),
        row.time_limit,
        "；".join(row.channels),
        row.responsible,
        row.catalog_code,
        row.last_disclosed.isoformat() if row.last_disclosed else "",
    ]


def _guarded(values: list[str | int]) -> list[str | int]:
    return [neutralise(v) if isinstance(v, str) else v for v in values]


def to_csv(rows: Iterable[ListRow]) -> str:
    """The list as CSV text (RFC 4180, LF line ends), formula-like text cells guarded."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    # csv quotes a field with LF but not one with a lone CR, which readers take for a line end
    quote_all = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(LIST_COLUMNS)
    for row in rows:
        values = _guarded(row_values(row))
        (quote_all if any(isinstance(v, str) and "\r" in v for v in values) else writer).writerow(values)
    return buf.getvalue()


def write_csv(rows: Iterable[ListRow], path: str | Path) -> None:
    """Write the CSV in UTF-8 with a BOM, which Excel and WPS open without garbling the Chinese."""
    Path(path).write_text(to_csv(rows), encoding="utf-8-sig", newline="")


def sheet_title(village: Village) -> str:
    """The village's code and name as an XLSX sheet title: no ``[]:*?/\\``, at most 31 characters."""
    title = f"{village.code}{village.name}".translate(_SHEET_TITLE_FORBIDDEN).strip("'")[:31]
    return title or village.code


def write_xlsx(village: Village, rows: Iterable[ListRow], path: str | Path) -> None:
    """Write the list as an XLSX workbook: one sheet named after the village, header in row 1.

    Every text cell is stored as a string (never a formula), formula-like text guarded as in CSV.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = sheet_title(village)
    ws.append(list(LIST_COLUMNS))
    for row in rows:
        values: list[object] = list(_guarded(row_values(row)))
        values[-1] = row.last_disclosed  # a real date cell
        ws.append(values)
    for cells in ws.iter_rows(min_row=2):
        for cell in cells:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    for cell in ws[1]:
        cell.font = bold
        cell.fill = fill
        cell.alignment = Alignment(horizontal="center", vertical="center")
    for cell in ws["H"][1:]:
        cell.number_format = "yyyy-mm-dd"
    wrap = Alignment(wrap_text=True, vertical="top")
    for col in ("B", "C", "D", "E", "F"):
        for cell in ws[col][1:]:
            cell.alignment = wrap
    for col, width in zip("ABCDEFGH", (6, 24, 48, 22, 20, 20, 12, 13), strict=True):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    wb.save(path)


@dataclass(frozen=True)
class RowGroup:
    title: str
    rows: list[ListRow]


def group_rows(rows: Iterable[ListRow]) -> list[RowGroup]:
    """Self-governance rows first, then catalog rows grouped by domain (领域号 order); unknown codes last."""
    groups: dict[str, list[ListRow]] = {}
    for row in rows:
        code = row.catalog_code.strip()
        if not code:
            key = "00"
        elif code[:2] in DOMAINS and len(code) == 6:
            key = code[:2]
        else:
            key = "99"
        groups.setdefault(key, []).append(row)
    out: list[RowGroup] = []
    for key in sorted(groups):
        title = SELF_GOVERNANCE if key == "00" else DOMAINS.get(key, "其他事项")
        out.append(RowGroup(title, sorted(groups[key], key=lambda r: r.seq)))
    return out


def cn_date(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


_A4_CSS = """
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "SimSun", sans-serif;
       margin: 0; padding: 12mm; color: #000; background: #fff; font-size: 11pt; }
header { text-align: center; border-bottom: 2px solid #b00; margin-bottom: 4mm; }
h1 { font-size: 20pt; margin: 0 0 2mm; color: #b00; letter-spacing: 2px; }
.meta { font-size: 10.5pt; margin: 0 0 3mm; }
h2 { font-size: 12.5pt; margin: 5mm 0 1.5mm; border-left: 4px solid #b00; padding-left: 2mm; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; }
th, td { border: 1px solid #333; padding: 1.2mm 1.5mm; vertical-align: top; word-break: break-all; }
th { background: #eee; font-weight: bold; }
col.seq { width: 8%; } col.item { width: 22%; } col.content { width: 36%; }
col.limit { width: 16%; } col.date { width: 18%; }
tr.overdue td { background: #fde2e2; }
.flag { color: #b00; font-weight: bold; white-space: nowrap; }
.legend { margin-top: 4mm; font-size: 9.5pt; }
footer { margin-top: 6mm; font-size: 10pt; display: flex; justify-content: space-between; }
@page { size: A4 portrait; margin: 12mm; }
@media print {
  body { padding: 0; font-size: 10pt; }
  h2 { break-after: avoid; page-break-after: avoid; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  thead { display: table-header-group; }
  tr.overdue td { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def render_notice_board(village: Village, rows: Iterable[ListRow], overdue: set[int], today: dt.date) -> str:
    """The printable A4 村公示栏 sheet of a village's list as a standalone HTML document."""
    name = escape(village.name)
    township = escape(village.township.name) if village.township else ""
    parts: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">' + HTML_GENERATOR,
        f"<title>{name}村务公开事项清单</title>",
        f"<style>{_A4_CSS}</style></head><body>",
        "<header>",
        f"<h1>{township}{name}村务公开事项清单</h1>",
        f'<p class="meta">村编码 {escape(village.code)}　　公布日期：{cn_date(today)}</p>',
        "</header>",
    ]
    total = 0
    for group in group_rows(rows):
        parts.append(f"<h2>{escape(group.title)}</h2>")
        parts.append(
            '<table><colgroup><col class="seq"><col class="item"><col class="content"><col class="limit">'
            '<col class="date"></colgroup>'
            "<thead><tr><th>序号</th><th>公开事项</th><th>公开内容</th><th>公开时限</th><th>最近公开</th></tr></thead>"
            "<tbody>"
        )
        for row in group.rows:
            total += 1
            late = row.seq in overdue
            date = cn_date(row.last_disclosed) if row.last_disclosed else "尚未公开"
            flag = '<br><span class="flag">逾期未公开</span>' if late else ""
            cls = ' class="overdue"' if late else ""
            parts.append(
                f"<tr{cls}><td>{row.seq}</td><td>{escape(row.title)}</td>"
                f"<td>{escape('、'.join(row.elements))}</td><td>{escape(row.time_limit)}</td>"
                f"<td>{date}{flag}</td></tr>"
            )
        parts.append("</tbody></table>")
    late_count = len(overdue)
    parts.append(
        f'<p class="legend">共 {total} 项。标“逾期未公开”的事项已超过规定周期未更新'
        f"（{late_count} 项），村委会将尽快公开。对公开内容有疑问，可向村务监督委员会反映。</p>"
    )
    parts.append(f"<footer><span>{township}{name}村民委员会</span><span>{cn_date(today)}</span></footer>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_html(village: Village, rows: Iterable[ListRow], overdue: set[int], today: dt.date, path: str | Path) -> None:
    Path(path).write_text(render_notice_board(village, rows, overdue, today), encoding="utf-8")


def _is_export(path: Path, fmt: str) -> bool:
    """Whether ``path`` looks like an earlier ``village export --format fmt``."""
    try:
        if fmt == "html":
            with path.open("rb") as fh:
                return HTML_GENERATOR.encode() in fh.read(4096)
        if fmt == "csv":
            with path.open("rb") as fh:
                first = fh.read(4096).split(b"\n", 1)[0]
            return first.decode("utf-8-sig", errors="replace").strip() == ",".join(LIST_COLUMNS)
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True)
        try:
            header = next(wb.worksheets[0].iter_rows(max_row=1, values_only=True), ())
        finally:
            wb.close()
        return tuple(header) == LIST_COLUMNS
    except Exception:  # unreadable or not a workbook: not one of ours
        return False


def check_output(path: str | Path, fmt: str, *, protected: Iterable[Path] = (), force: bool = False) -> None:
    """Refuse to write ``path`` when it is a protected file (the database) or an existing file that
    is not an earlier export of the same kind, unless ``force``."""
    target = Path(path)
    for p in protected:
        if target.resolve() == p.resolve():
            raise Refused(f"{target} 是数据库文件，不能作为导出文件")
    if force or not target.exists():
        return
    if target.is_dir():
        raise Refused(f"{target} 是文件夹，请给出文件名")
    if not _is_export(target, fmt):
        raise Refused(f"{target} 已存在，且不是之前导出的 {fmt} 清单；确认要覆盖时加 --force")
