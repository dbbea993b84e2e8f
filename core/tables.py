"""Reading staff spreadsheets: CSV (UTF-8, UTF-8 with BOM, GBK — detected) and XLSX (first sheet).

Every row keeps the line number a person sees: the CSV line, or the sheet row. Leading title
rows, blank rows and merged cells above the header are tolerated; the header is the first row
that holds the expected column names.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import Problem, ValidationFailed

XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls


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


def _fail(file: str, line: int | None, message: str, column: str | None = None) -> ValidationFailed:
    return ValidationFailed([Problem(file, line, column, message)])


def _decode(data: bytes, file: str) -> str:
    if b"\x00" in data[:4096]:
        raise _fail(file, None, "不是文本表格文件（含二进制内容），请提供 CSV 或 XLSX")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise _fail(file, None, "无法识别文件编码（支持 UTF-8、UTF-8 BOM、GBK）")


def _clean(value: object) -> str:
    if value is None:
        return ""
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
        names = {c for c in cells if c}
        if names and len(names & wanted) >= max(2, len(wanted) // 2):
            return idx
    first_line = raw_rows[0][0] if raw_rows else 1
    raise _fail(file, first_line, "找不到表头：应为 " + ",".join(expected))


def _to_table(
    raw_rows: list[tuple[int, list[str]]],
    expected: Sequence[str],
    optional: Sequence[str],
    file: str,
) -> Table:
    if not raw_rows or all(not any(cells) for _, cells in raw_rows):
        raise _fail(file, None, "文件是空的")
    raw_rows = [(line, cells) for line, cells in raw_rows if any(cells)]
    hidx = _find_header(raw_rows, expected, file)
    header_line, header = raw_rows[hidx]
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
        values = {name: (cells[i] if i < len(cells) else "") for i, name in enumerate(header)}
        if len(cells) > len(header) and any(cells[len(header) :]):
            problems.append(Problem(file, line, None, f"本行有 {len(cells)} 列，多于表头的 {len(header)} 列"))
            continue
        rows.append(Row(line, values))
    if problems:
        raise ValidationFailed(problems)
    if not rows:
        raise _fail(file, header_line, "只有表头，没有数据行")
    return Table(file, header_line, list(header), rows)


def _read_csv(text: str) -> list[tuple[int, list[str]]]:
    out: list[tuple[int, list[str]]] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for cells in reader:
            out.append((reader.line_num, [_clean(c) for c in cells]))
    except csv.Error as exc:
        raise _fail("", reader.line_num, f"CSV 格式错误：{exc}") from exc
    return out


def _read_xlsx(data: bytes, file: str) -> list[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise _fail(file, None, f"无法读取 XLSX 文件：{exc}") from exc
    try:
        ws = wb.worksheets[0]
        out = []
        for idx, values in enumerate(ws.iter_rows(values_only=True), 1):
            out.append((idx, [_clean(v) for v in values]))
        return out
    finally:
        wb.close()


def read_table(path: str | Path, expected: Sequence[str], optional: Sequence[str] = ()) -> Table:
    """Read a CSV or XLSX file whose header holds ``expected`` (and maybe ``optional``) columns."""
    p = Path(path)
    file = str(path)
    try:
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
        try:
            raw = _read_csv(_decode(data, file))
        except ValidationFailed as exc:
            raise ValidationFailed(
                [Problem(file, p.line, p.column, p.message) for p in exc.problems], exc.message
            ) from None
    return _to_table(raw, expected, optional, file)


def split_list(value: str, sep: str) -> list[str]:
    return [part.strip() for part in value.split(sep) if part.strip()]
