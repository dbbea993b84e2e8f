"""``cunwu village`` and its exit codes, through CliRunner on real databases."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from openpyxl import load_workbook

from tests.conftest import SAMPLE, Cunwu
from tests.helpers import dump_database

TODAY = "2026-11-21"


def test_import_and_list(cunwu: Cunwu) -> None:
    out = cunwu.ok("village", "import", str(SAMPLE / "villages.csv")).output
    assert "村庄：5 个（新增 5" in out
    out = cunwu.ok("village", "import-list", "QH03", str(SAMPLE / "village_lists" / "QH03.csv")).output
    assert "QH03 清单：32 行" in out
    out = cunwu.ok("village", "import-list", "--dir", str(SAMPLE / "village_lists")).output
    assert [line.split()[0] for line in out.splitlines()] == ["QH01", "QH02", "QH03", "QH04", "QH05"]
    assert "QH03 清单：32 行（新增 0，更新 0，删除 0，未变 32）" in out
    data = json.loads(cunwu.ok("village", "list", "--json").output)
    assert [(d["code"], d["name"], d["rows"]) for d in data] == [
        ("QH01", "清河村", 34),
        ("QH02", "新寨村", 33),
        ("QH03", "芒洪村", 32),
        ("QH04", "河边村", 32),
        ("QH05", "大坪村", 30),
    ]
    assert "芒洪村" in cunwu.ok("village", "list").output


def test_import_list_usage_and_bad_file(cunwu: Cunwu, migrated_url: str, tmp_path: Path) -> None:
    assert cunwu("village", "import-list").exit_code == 2
    assert cunwu("village", "import-list", "QH01").exit_code == 2
    cunwu.ok("load-sample")
    with (SAMPLE / "village_lists" / "QH04.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    rows[6][0] = "3"  # duplicate 序号 on line 7
    rows[9][7] = "2026/13/01"  # bad date on line 10
    bad = tmp_path / "QH04.csv"
    with bad.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    before = dump_database(migrated_url)
    result = cunwu("village", "import-list", "QH04", str(bad))
    assert result.exit_code == 1
    assert f"{bad}:7: 序号" in result.stderr and f"{bad}:10: 最近公开日期" in result.stderr
    result = cunwu("village", "import-list", "QH77", str(SAMPLE / "village_lists" / "QH04.csv"))
    assert result.exit_code == 1 and "QH77" in result.stderr
    assert dump_database(migrated_url) == before


def test_check_json_and_exit_codes(cunwu: Cunwu) -> None:
    cunwu.ok("load-sample")
    result = cunwu("village", "check", "--all", "--today", TODAY, "--json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["today"] == TODAY and len(data["defects"]) == 20
    assert {"village": "QH03", "row": 11, "kind": "时限放宽", "code": "05-010"}.items() <= data["defects"][0].items()
    missing = [d for d in data["defects"] if d["kind"] == "必备事项缺失"]
    assert len(missing) == 6 and all(d["row"] is None for d in missing)
    assert set(data["defects"][0]) == {"village", "row", "kind", "code", "detail"}
    clean = cunwu("village", "check", "QH01", "QH02", "--today", TODAY, "--json")
    assert clean.exit_code == 0 and json.loads(clean.output)["defects"] == []
    assert "未发现问题" in cunwu.ok("village", "check", "QH01", "--today", TODAY).output
    table = cunwu("village", "check", "QH04", "--today", TODAY)
    assert table.exit_code == 1 and "共 5 个问题" in table.output and "17-006" in table.output
    assert cunwu("village", "check", "--today", TODAY).exit_code == 2
    assert cunwu("village", "check", "QH01", "--all").exit_code == 2
    unknown = cunwu("village", "check", "QH99", "--today", TODAY)
    assert unknown.exit_code == 1 and "QH99" in unknown.stderr


def test_sync_preview_then_apply(cunwu: Cunwu, migrated_url: str) -> None:
    cunwu.ok("load-sample")
    before = dump_database(migrated_url)
    preview = cunwu.ok("village", "sync", "QH04", "--today", TODAY).output
    assert "+ 第33行（新增必备事项）07-004" in preview and "--apply" in preview and "17-006" in preview
    assert dump_database(migrated_url) == before
    applied = cunwu.ok("village", "sync", "QH04", "--today", TODAY, "--apply").output
    assert "已写入 3 处修改" in applied
    result = cunwu("village", "check", "QH04", "--today", TODAY, "--json")
    kinds = sorted((d["row"], d["kind"]) for d in json.loads(result.output)["defects"])
    assert kinds == [(1, "逾期未公开"), (32, "编码不存在")]
    assert "无需修改" in cunwu.ok("village", "sync", "QH04", "--today", TODAY).output


def test_exports(cunwu: Cunwu, tmp_path: Path) -> None:
    cunwu.ok("load-sample")
    for fmt in ("csv", "xlsx", "html"):
        out = tmp_path / f"QH03.{fmt}"
        assert (
            "32 行" in cunwu.ok("village", "export", "QH03", "--format", fmt, "-o", str(out), "--today", TODAY).output
        )
    ws = load_workbook(tmp_path / "QH03.xlsx").active
    assert ws is not None and ws.max_row == 33 and ws["B12"].value == "临时救助对象公示"
    html = (tmp_path / "QH03.html").read_text(encoding="utf-8")
    assert "芒洪村村务公开事项清单" in html and html.count('class="overdue"') == 1
    assert (tmp_path / "QH03.csv").read_text(encoding="utf-8-sig").startswith("序号,公开事项,")
    assert cunwu("village", "export", "QH03", "--format", "pdf", "-o", str(tmp_path / "x")).exit_code == 2


def test_channels_never_print_robot_keys(cunwu: Cunwu) -> None:
    cunwu.ok("load-sample")
    out = cunwu.ok(
        "village", "channels", "QH03", "--oa-tag", "芒洪村", "--robot", "芒洪村傣语通知群=secret-key-123"
    ).output
    assert "公众号标签：芒洪村" in out and "芒洪村傣语通知群：机器人已设置" in out
    assert "芒洪村村民群：未设置机器人" in out and "secret-key-123" not in out
    assert cunwu("village", "channels", "QH03", "--robot", "nokey").exit_code == 2
