"""Reading staff spreadsheets: CSV (UTF-8, UTF-8 with BOM, GBK — detected) and XLSX (first sheet).

Every row keeps the line number a person sees: the CSV line, or the sheet row. Leading title
rows, blank rows and merged cells above the header are tolerated; the header is the first row
that holds the expected column names.

Inputs are bounded (``core.limits``): the file's size and row count, and every cell's length.
A cell that holds an export's formula-injection guard (``core.cells``) gets its text back. What a
spreadsheet cannot give — a formula saved without its value, a cell merged into another in the
data rows — is reported as such, at its row and column.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.cells import restore
from core.errors import Problem, ValidationFailed
from core.limits import MAX_FIELD_CHARS, MAX_FILE_BYTES, MAX_ROWS, MAX_UNZIPPED_BYTES, too_long

XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls
_MERGE_RE = re.compile(rb'<mergeCell\s+ref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"')


@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, str]


@dataclass(frozen=True)
class Table:
    file: str
    header_line: int
    columns: list[str]
    rows: list[Row]


class Unreadable(str):
    """A cell whose value the file does not hold; the text says why (reported at its column)."""


RawRows = list[tuple[int, list[str]]]


def _fail(file: str, line: int | None, message: str, column: str | None = None) -> ValidationFailed:
    return ValidationFailed([Problem(file, line, column, message)])


def _too_many_rows(file: str) -> ValidationFailed:
    return _fail(file, None, f"超过 {MAX_ROWS:,} 行，请分成几个文件导入")


def _decode(data: bytes, file: str) -> str:
    if b"\x00" in data[:4096]:
        raise _fail(file, None, "不是文本表格文件（含二进制内容），请提供 CSV 或 XLSX")
    failed_at: dict[str, int] = {}
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            failed_at[encoding] = exc.start
    # The encoding that read further is the file's; the line where it stopped is the odd one.
    encoding, pos = max(failed_at.items(), key=lambda kv: kv[1])
    name = "UTF-8" if encoding == "utf-8-sig" else "GBK"
    line = data.count(b"\n", 0, pos) + 1
    raise _fail(
        file,
        line,
        f"这一行的编码与文件其余部分（{name}）不同，无法识别；请在 Excel/WPS 中把整个文件另存为 UTF-8 CSV",
    )


def _clean(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Unreadable):
        return value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if hasattr(value, "isoformat") and not isinstance(value, str):
        text = value.isoformat()  # type: ignore[union-attr]
        return text[:10] if text.endswith("T00:00:00") else text
    return str(value).replace("\u3000", " ").strip()


def _find_header(raw_rows: Sequence[tuple[int, list[str]]], expected: Sequence[str], file: str) -> int:
    """Index into raw_rows of the header row: the first row that names most expected columns."""
    wanted = set(expected)
    for idx, (_, cells) in enumerate(raw_rows[:30]):
        names = {c for c in cells if c and not isinstance(c, Unreadable)}
        if names and len(names & wanted) >= max(2, len(wanted) // 2):
            return idx
    first_line = raw_rows[0][0] if raw_rows else 1
    raise _fail(file, first_line, "找不到表头：应为 " + ",".join(expected))


def _cell(raw: str, column: str, limit: int, file: str, line: int, problems: list[Problem]) -> str | None:
    """The stored text of one data cell, or None after recording why it cannot be used."""
    if isinstance(raw, Unreadable):
        problems.append(Problem(file, line, column, str(raw)))
        return None
    value = restore(raw)
    if message := too_long(value, limit):
        problems.append(Problem(file, line, column, message))
        return None
    return value


def _to_table(
    raw_rows: RawRows, expected: Sequence[str], optional: Sequence[str], limits: Mapping[str, int], file: str
) -> Table:
    if not raw_rows or all(not any(cells) for _, cells in raw_rows):
        raise _fail(file, None, "文件是空的")
    raw_rows = [(line, cells) for line, cells in raw_rows if any(cells)]
    hidx = _find_header(raw_rows, expected, file)
    header_line, raw_header = raw_rows[hidx]
    header = ["" if isinstance(c, Unreadable) else c for c in raw_header]  # merged header cells: as before
    while header and not header[-1]:
        header = header[:-1]
    problems: list[Problem] = []
    missing = [c for c in expected if c not in header]
    extra = [c for c in header if c not in expected and c not in optional]
    dupes = sorted({c for c in header if header.count(c) > 1})
    if missing:
        problems.append(Problem(file, header_line, None, "表头缺少列：" + "、".join(missing)))
    if extra:
        problems.append(Problem(file, header_line, None, "表头有未知列：" + "、".join(extra)))
    if dupes:
        problems.append(Problem(file, header_line, None, "表头列重复：" + "、".join(dupes)))
    if problems:
        raise ValidationFailed(problems, "表头不符合模板，未写入任何数据")
    rows: list[Row] = []
    for line, cells in raw_rows[hidx + 1 :]:
        if len(cells) > len(header) and any(cells[len(header) :]):
            problems.append(Problem(file, line, None, f"本行有 {len(cells)} 列，多于表头的 {len(header)} 列"))
            continue
        before = len(problems)
        values: dict[str, str] = {}
        for i, name in enumerate(header):
            limit = limits.get(name, MAX_FIELD_CHARS)
            value = _cell(cells[i] if i < len(cells) else "", name, limit, file, line, problems)
            values[name] = value or ""
        if len(problems) == before:
            rows.append(Row(line, values))
    if problems:
        raise ValidationFailed(problems)
    if not rows:
        raise _fail(file, header_line, "只有表头，没有数据行")
    return Table(file, header_line, list(header), rows)


def _read_csv(text: str, file: str) -> RawRows:
    out: RawRows = []
    # csv's own cap (128 KB a field) would hide the column; the file size bounds every field instead
    csv.field_size_limit(max(csv.field_size_limit(), MAX_FILE_BYTES))
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for cells in reader:
            if len(out) >= MAX_ROWS:
                raise _too_many_rows(file)
            out.append((reader.line_num, [_clean(c) for c in cells]))
    except csv.Error as exc:
        raise _fail(file, reader.line_num, f"CSV 格式错误：{exc}") from exc
    return out


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


def _scan_sheet(archive: zipfile.ZipFile, sheet_path: str) -> tuple[bool, list[tuple[int, int, int, int, str]]]:
    """Whether the sheet has formulas, and its merged ranges as (row1, col1, row2, col2, "A3:B4")."""
    has_formula = False
    merged: set[tuple[int, int, int, int, str]] = set()
    tail = b""
    with archive.open(sheet_path) as src:
        while chunk := src.read(1 << 20):
            data = tail + chunk
            has_formula = has_formula or b"<f>" in data or b"<f " in data
            for m in _MERGE_RE.finditer(data):
                c1, r1 = _column_number(m[1]), int(m[2])
                c2, r2 = (_column_number(m[3]), int(m[4])) if m[3] else (c1, r1)
                ref = m[0].split(b'"')[1].decode("ascii")
                merged.add((r1, c1, r2, c2, ref))
            tail = data[-200:]
    return has_formula, sorted(merged)


def _formula_cells(data: bytes) -> set[tuple[int, int]]:
    """(row, column) of every formula cell of the first sheet."""
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    try:
        return {
            (cell.row, cell.column)
            for row in wb.worksheets[0].iter_rows()
            for cell in row
            if getattr(cell, "data_type", None) == "f"
        }
    finally:
        wb.close()


def _xlsx_values(
    ws, formulas: set[tuple[int, int]], merged: list[tuple[int, int, int, int, str]]
) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    for r, values in enumerate(ws.iter_rows(values_only=True), 1):
        cells: list[object] = list(values)
        for c, value in enumerate(cells, 1):
            if value is not None:
                continue
            if (r, c) in formulas:
                cells[c - 1] = Unreadable(
                    "是公式，但文件里没有保存计算结果：请在 Excel/WPS 中打开后保存，或把公式换成数值"
                )
                continue
            for r1, c1, r2, c2, ref in merged:
                if r1 <= r <= r2 and c1 <= c <= c2 and (r, c) != (r1, c1):
                    cells[c - 1] = Unreadable(
                        f"是合并单元格（{ref}）的一部分：数据行不能合并单元格，请取消合并并在每格填写"
                    )
                    break
        yield [_clean(v) for v in cells]


def _read_xlsx(data: bytes, file: str) -> RawRows:
    from openpyxl import load_workbook

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        if sum(info.file_size for info in archive.infolist()) > MAX_UNZIPPED_BYTES:
            raise _fail(file, None, f"XLSX 解压后超过 {MAX_UNZIPPED_BYTES // 2**20} MB，请分成几个文件导入")
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise _fail(file, None, f"无法读取 XLSX 文件：{exc}") from exc
    try:
        ws = wb.worksheets[0]
        if (ws.max_row or 0) > MAX_ROWS + 1:
            raise _too_many_rows(file)
        has_formula, merged = _scan_sheet(archive, ws._worksheet_path)
        formulas = _formula_cells(data) if has_formula else set()
        out: RawRows = []
        for idx, cells in enumerate(_xlsx_values(ws, formulas, merged), 1):
            if idx > MAX_ROWS:
                raise _too_many_rows(file)
            out.append((idx, cells))
        return out
    finally:
        wb.close()


def read_table(
    path: str | Path, expected: Sequence[str], optional: Sequence[str] = (), limits: Mapping[str, int] | None = None
) -> Table:
    """Read a CSV or XLSX file whose header holds ``expected`` (and maybe ``optional``) columns.

    Every cell is at most ``MAX_FIELD_CHARS`` long, or ``limits[column]`` for the columns named there.
    """
    p = Path(path)
    file = str(path)
    try:
        if p.stat().st_size > MAX_FILE_BYTES:
            raise _fail(file, None, f"文件超过 {MAX_FILE_BYTES // 2**20} MB，请分成几个文件导入")
        data = p.read_bytes()
    except FileNotFoundError as exc:
        raise _fail(file, None, "文件不存在") from exc
    except IsADirectoryError as exc:
        raise _fail(file, None, "这是一个文件夹，不是表格文件") from exc
    if not data.strip():
        raise _fail(file, None, "文件是空的")
    if data.startswith(XLSX_MAGIC):
        raw = _read_xlsx(data, file)
    elif data.startswith(OLE_MAGIC):
        raise _fail(file, None, "这是旧版 .xls 文件，请在 Excel/WPS 中另存为 .xlsx 或 CSV")
    else:
        raw = _read_csv(_decode(data, file), file)
    return _to_table(raw, expected, optional, limits or {}, file)


def split_list(value: str, sep: str) -> list[str]:
    return [part.strip() for part in value.split(sep) if part.strip()]
