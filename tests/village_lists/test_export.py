"""Exports: CSV and XLSX with the import columns (and back), the A4 notice-board HTML."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import SAMPLE, Cunwu
from village_lists.checker import check_village, overdue_rows
from village_lists.export import SELF_GOVERNANCE, group_rows, render_notice_board, write_csv, write_xlsx
from village_lists.importer import LIST_COLUMNS, import_list
from village_lists.repository import get_village, list_rows

TODAY = dt.date(2026, 11, 21)


@pytest.fixture
def sample(cunwu: Cunwu, session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    cunwu.ok("load-sample")
    return session_factory


def test_csv_is_the_import_format(sample: sessionmaker[Session], tmp_path: Path) -> None:
    out = tmp_path / "QH03.csv"
    with sample() as session:
        write_csv(list_rows(session, "QH03"), out)
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel and WPS read the Chinese right
    original = (SAMPLE / "village_lists" / "QH03.csv").read_text(encoding="utf-8")
    assert data.decode("utf-8-sig") == original
    with sample.begin() as session:
        report = import_list(session, "QH03", out)
    assert report.unchanged == 32 and not (report.added or report.updated or report.removed)


def test_xlsx_opens_and_round_trips(sample: sessionmaker[Session], tmp_path: Path) -> None:
    out = tmp_path / "QH05.xlsx"
    with sample() as session:
        write_xlsx(get_village(session, "QH05"), list_rows(session, "QH05"), out)
    wb = load_workbook(out)
    ws = wb.active
    assert ws is not None
    assert ws.title == "QH05大坪村"
    values = list(ws.iter_rows(values_only=True))
    assert list(values[0]) == list(LIST_COLUMNS)
    assert len(values) == 31
    with (SAMPLE / "village_lists" / "QH05.csv").open(encoding="utf-8", newline="") as fh:
        expected = list(csv.DictReader(fh))
    for row, want in zip(values[1:], expected, strict=True):
        assert row[0] == int(want["序号"])
        assert row[1] == want["公开事项"] and row[2] == want["公开内容"] and row[6] == (want["对应目录编码"] or None)
        last = row[7]
        assert (last.date().isoformat() if isinstance(last, dt.datetime) else "") == want["最近公开日期"]
    assert ws["H2"].number_format == "yyyy-mm-dd"
    assert ws.freeze_panes == "A2"
    with sample.begin() as session:
        report = import_list(session, "QH05", out)
    assert report.unchanged == 30


def test_notice_board_html(sample: sessionmaker[Session]) -> None:
    with sample() as session:
        village = get_village(session, "QH03")
        rows = list_rows(session, "QH03")
        overdue = overdue_rows(check_village(session, "QH03", TODAY))
        html = render_notice_board(village, rows, overdue, TODAY)
    assert overdue == {13}
    assert "清河镇芒洪村村务公开事项清单" in html and "2026年11月21日" in html
    assert "@media print" in html and "size: A4" in html
    groups = [g.title for g in group_rows(rows)]
    assert groups[0] == SELF_GOVERNANCE and "社会救助" in groups and "涉农补贴" in groups
    assert all(f"<h2>{g}</h2>" in html for g in groups)
    assert html.count('class="overdue"') == 1 and html.count("逾期未公开</span>") == 1
    assert '<tr class="overdue"><td>13</td><td>高龄津贴发放名单公示</td>' in html
    assert "2026年4月10日" in html  # last-disclosed dates shown
    assert html.count("<tr><td>") + html.count('<tr class="overdue"><td>') == 32


def test_html_escapes_what_cadres_type(sample: sessionmaker[Session]) -> None:
    with sample.begin() as session:
        row = list_rows(session, "QH01")[0]
        row.title = "<script>alert(1)</script>"
    with sample() as session:
        html = render_notice_board(get_village(session, "QH01"), list_rows(session, "QH01"), set(), TODAY)
    assert "<script>" not in html and "&lt;script&gt;" in html
