"""Catalog import through the CLI on real databases: formats, upsert, retire, dry run, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import Workbook

from tests.conftest import SAMPLE, Cunwu
from tests.helpers import dump_database, read_csv, write_csv

CATALOG = SAMPLE / "township_catalog.csv"


def _rows() -> list[list[str]]:
    return read_csv(CATALOG)


def _write_xlsx(path: Path, rows: list[list[str]]) -> Path:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    # a title row merged across the columns and a blank row, the way staff spreadsheets look
    ws.append(["清河镇政务公开事项标准目录（2026年版）"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(rows[0]))
    ws.append([])
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def _list_json(cunwu: Cunwu) -> list[dict[str, object]]:
    return json.loads(cunwu.ok("catalog", "list", "--all", "--json").output)


@pytest.mark.parametrize("fmt", ["utf-8", "utf-8-sig", "gbk", "xlsx"])
def test_every_format_imports_identically(fmt: str, cunwu: Cunwu, tmp_path: Path) -> None:
    rows = _rows()
    path = (
        _write_xlsx(tmp_path / "catalog.xlsx", rows)
        if fmt == "xlsx"
        else write_csv(tmp_path / "catalog.csv", rows, fmt)
    )
    result = cunwu.ok("catalog", "import", str(path), "--township", "清河镇")
    assert "新增 223" in result.output
    got = _list_json(cunwu)
    assert len(got) == 223
    assert {d["domain"] for d in got} and len({d["code"][:2] for d in got}) == 26  # type: ignore[index]
    first = got[0]
    assert first["code"] == "01-001" and first["township"] == "清河镇"
    assert first["channels"] == ["政府网站", "两微一端"]
    assert first["levels"] == ["县级"] and first["method"] == "主动" and first["status"] == "active"
    # The UTF-8 file is the reference; every format must give the very same list.
    ref_dir = tmp_path / "ref"
    ref_dir.mkdir()
    assert got == _reference_list(ref_dir)


def _reference_list(tmp: Path) -> list[dict[str, object]]:
    url = f"sqlite:///{tmp / 'ref.db'}"
    ref = Cunwu(url)
    ref.ok("db", "upgrade")
    ref.ok("catalog", "import", str(CATALOG), "--township", "清河镇")
    return _list_json(ref)


def test_reimport_upserts_retires_and_dry_run_writes_nothing(cunwu: Cunwu, tmp_path: Path) -> None:
    cunwu.ok("catalog", "import", str(CATALOG), "--township", "清河镇")
    rows = _rows()
    header, body = rows[0], rows[1:]
    changed = [r[:] for r in body if r[0] != "26-004"]  # drop one item
    changed[0][3] = changed[0][3] + "（修订）"  # rename one
    path = write_csv(tmp_path / "v2.csv", [header, *changed])

    before = dump_database(cunwu.url)
    dry = cunwu.ok("catalog", "import", str(path), "--dry-run")
    assert "演练" in dry.output and "停用 1" in dry.output and "更新 1" in dry.output
    assert "26-004" in dry.output
    assert dump_database(cunwu.url) == before

    cunwu.ok("catalog", "import", str(path))  # the only township is the default
    items = {d["code"]: d for d in _list_json(cunwu)}
    assert items["26-004"]["status"] == "retired"
    assert str(items["01-001"]["title"]).endswith("（修订）")
    active = json.loads(cunwu.ok("catalog", "list", "--json").output)
    assert len(active) == 222 and all(d["status"] == "active" for d in active)

    cunwu.ok("catalog", "import", str(CATALOG))  # the item comes back
    assert {d["code"]: d for d in _list_json(cunwu)}["26-004"]["status"] == "active"


def test_county_compilation_with_township_column(cunwu: Cunwu, tmp_path: Path) -> None:
    rows = _rows()
    header = [*rows[0], "乡镇"]
    body = [[*r, "清河镇"] for r in rows[1:]] + [[*r, "石桥乡"] for r in rows[1:11]]
    cunwu.ok("catalog", "import", str(write_csv(tmp_path / "county.csv", [header, *body])))
    data = _list_json(cunwu)
    assert len(data) == 233
    assert sum(1 for d in data if d["township"] == "石桥乡") == 10
    shiqiao = json.loads(cunwu.ok("catalog", "list", "--township", "石桥乡", "--json").output)
    assert [d["code"] for d in shiqiao][:2] == ["01-001", "01-002"]
    # With several townships, a file without the column must name one.
    result = cunwu("catalog", "import", str(CATALOG))
    assert result.exit_code == 1 and "--township" in result.output


def _mutate(rows: list[list[str]], line: int, column: str, value: str) -> list[list[str]]:
    out = [r[:] for r in rows]
    out[line - 1][rows[0].index(column)] = value
    return out


BAD_CATALOGS = {
    "wrong header": (lambda r: [["编号", *r[0][1:]], *r[1:]], ":1:", "表头"),
    "duplicate code": (lambda r: _mutate(r, 5, "编码", r[1][0]), ":5: 编码:", "重复"),
    "bad method": (lambda r: _mutate(r, 7, "公开方式", "被动"), ":7: 公开方式:", "被动"),
    "unknown domain": (lambda r: _mutate(r, 9, "试点领域", "太空探索"), ":9: 试点领域:", "26 个试点领域"),
    "empty required": (lambda r: _mutate(r, 11, "公开时限", ""), ":11: 公开时限:", "必填"),
    "bad code form": (lambda r: _mutate(r, 12, "编码", "0101"), ":12: 编码:", "格式"),
    "bad channel": (lambda r: _mutate(r, 13, "公开渠道和载体", "政府网站；抖音"), ":13: 公开渠道和载体:", "抖音"),
    "bad level": (lambda r: _mutate(r, 14, "公开层级", "省级"), ":14: 公开层级:", "省级"),
    "bad audience": (lambda r: _mutate(r, 15, "公开对象", "村民"), ":15: 公开对象:", "特定群体"),
}


@pytest.mark.parametrize("case", sorted(BAD_CATALOGS))
def test_bad_catalog_rejected_with_line_and_database_unchanged(case: str, cunwu: Cunwu, tmp_path: Path) -> None:
    cunwu.ok("catalog", "import", str(CATALOG), "--township", "清河镇")
    mutate, where, words = BAD_CATALOGS[case]
    path = write_csv(tmp_path / "bad.csv", mutate(_rows()))
    before = dump_database(cunwu.url)
    result = cunwu("catalog", "import", str(path))
    assert result.exit_code == 1, result.output
    assert f"{path}{where}" in result.output, result.output
    assert words in result.output
    assert "未写入" in result.output
    assert dump_database(cunwu.url) == before


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("empty.csv", b"", "空"),
        ("blank.csv", b"\n\n  \n", "空"),
        ("photo.csv", bytes(range(256)) * 4, "不是文本表格"),
        ("notes.csv", "今天开会\n记得带本子\n".encode(), "找不到表头"),
        ("broken.xlsx", b"PK\x03\x04not really a zip", "XLSX"),
        ("old.xls", b"\xd0\xcf\x11\xe0" + b"\x00" * 100, ".xls"),
        ("header_only.csv", (",".join(_rows()[0]) + "\n").encode(), "没有数据行"),
    ],
)
def test_not_a_spreadsheet_rejected(name: str, content: bytes, words: str, cunwu: Cunwu, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    before = dump_database(cunwu.url)
    result = cunwu("catalog", "import", str(path), "--township", "清河镇")
    assert result.exit_code == 1
    assert str(path) in result.output and words in result.output, result.output
    assert dump_database(cunwu.url) == before


def test_catalog_show_and_domain_filter(cunwu: Cunwu) -> None:
    cunwu.ok("catalog", "import", str(CATALOG), "--township", "清河镇")
    shown = json.loads(cunwu.ok("catalog", "show", "19-003", "--json").output)
    assert shown["title"] == "耕地地力保护补贴面积及金额公示"
    assert "监督电话" in shown["elements"]
    text = cunwu.ok("catalog", "show", "19-003").output
    assert "公开时限：公示期不少于7天" in text
    by_name = json.loads(cunwu.ok("catalog", "list", "--domain", "涉农补贴", "--json").output)
    by_no = json.loads(cunwu.ok("catalog", "list", "--domain", "19", "--json").output)
    assert by_name == by_no and by_name and all(d["code"].startswith("19-") for d in by_name)
    missing = cunwu("catalog", "show", "99-999")
    assert missing.exit_code == 1 and "99-999" in missing.output


def test_commands_ask_for_upgrade_on_an_empty_database(tmp_path: Path) -> None:
    fresh = Cunwu(f"sqlite:///{tmp_path / 'new.db'}")
    result = fresh("catalog", "list")
    assert result.exit_code == 1
    assert "cunwu db upgrade" in result.output


def _revision(url: str) -> int:
    from sqlalchemy import text

    from core.db import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        value = conn.execute(text("SELECT revision FROM content_revision")).scalar_one()
    engine.dispose()
    return int(value)


def test_a_partial_catalog_must_be_asked_for(cunwu: Cunwu, migrated_url: str, tmp_path: Path) -> None:
    cunwu.ok("catalog", "import", str(CATALOG), "--township", "清河镇")
    partial = write_csv(tmp_path / "five.csv", _rows()[:6])  # the header and 5 items
    before = dump_database(migrated_url)
    result = cunwu("catalog", "import", str(partial))
    assert result.exit_code == 1
    warning = "清河镇：将停用现有 223 个事项中的 218 个（98%），超过 20%，文件可能不完整"
    assert result.stderr.strip() == f"错误：{warning}。确认要停用时加 --allow-retire；先看清单可加 --dry-run"
    assert dump_database(migrated_url) == before
    dry = cunwu.ok("catalog", "import", str(partial), "--dry-run").output
    assert "停用 218，未变 5" in dry and f"注意：{warning}；正式导入需加 --allow-retire" in dry
    assert dump_database(migrated_url) == before
    done = cunwu.ok("catalog", "import", str(partial), "--allow-retire").output
    assert "停用 218，未变 5" in done
    assert len(_list_json(cunwu)) == 223 and len(json.loads(cunwu.ok("catalog", "list", "--json").output)) == 5
    # retiring at most 20 % needs no flag: 178 of 223 kept retires 45 (20.2 % would not pass; 44 does)
    cunwu.ok("catalog", "import", str(CATALOG))
    kept = write_csv(tmp_path / "most.csv", _rows()[: 1 + 223 - 44])
    assert "停用 44" in cunwu.ok("catalog", "import", str(kept)).output


def test_no_op_reimport_keeps_the_revision(cunwu: Cunwu, migrated_url: str) -> None:
    cunwu.ok("catalog", "import", str(CATALOG), "--township", "清河镇")
    revision = _revision(migrated_url)
    assert "未变 223" in cunwu.ok("catalog", "import", str(CATALOG)).output
    assert _revision(migrated_url) == revision
