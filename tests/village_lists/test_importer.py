"""Importing villages and village lists (CSV in UTF-8/BOM/GBK, XLSX); the village repository."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy.orm import Session, sessionmaker

from content.models import Township
from core.errors import NotFound, ValidationFailed
from tests.conftest import SAMPLE, TEST_SECRET_KEY
from tests.helpers import dump_database, read_csv, write_csv
from village_lists.importer import import_list, import_list_dir, import_villages
from village_lists.models import Village
from village_lists.repository import (
    bind_follower,
    find_villages,
    followers_of,
    get_follower,
    get_village,
    group_robots,
    list_rows,
    list_villages,
    mark_unsubscribed,
    robot_webhook_key,
    set_channels,
    set_group_robot,
    unbind_follower,
)

LISTS = SAMPLE / "village_lists"
NOW = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def villages(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    with session_factory.begin() as session:
        import_villages(session, SAMPLE / "villages.csv")
    return session_factory


def test_import_villages(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        report = import_villages(session, SAMPLE / "villages.csv")
    assert report.codes == ["QH01", "QH02", "QH03", "QH04", "QH05"]
    assert report.added == report.codes
    with session_factory() as session:
        mh = get_village(session, "qh03")
        assert mh.name == "芒洪村" and mh.township.name == "清河镇"
        assert (mh.households, mh.population) == (521, 2093)
        assert mh.languages == ["傣语", "汉语"]
        assert "芒洪村傣语通知群" in mh.wechat_groups
        assert mh.loudspeaker_zones == ["芒洪上寨片", "芒洪下寨片", "曼勒曼岗片"]
        assert len(mh.groups) == 6
        assert len(session.query(Township).all()) == 1
    with session_factory.begin() as session:
        again = import_villages(session, SAMPLE / "villages.csv")
    assert again.added == [] and again.updated == [] and again.unchanged == 5


def test_bad_villages_file_is_rejected_whole(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    rows = read_csv(SAMPLE / "villages.csv")
    rows[2][0] = rows[1][0]  # duplicate 村编码 on line 3
    rows[4][3] = "三百"  # 户数 on line 5
    path = write_csv(tmp_path / "villages.csv", rows)
    with pytest.raises(ValidationFailed) as exc, session_factory.begin() as session:
        import_villages(session, path)
    found = {(p.line, p.column) for p in exc.value.problems}
    assert found == {(3, "村编码"), (5, "户数")}
    with session_factory() as session:
        assert list_villages(session) == []


def test_import_list_rows_and_ids(villages: sessionmaker[Session]) -> None:
    with villages.begin() as session:
        report = import_list(session, "QH03", LISTS / "QH03.csv")
    assert report.rows == 32 and len(report.added) == 32
    with villages() as session:
        rows = list_rows(session, "QH03")
        assert [r.row_id for r in rows[:2]] == ["QH03/1", "QH03/2"]
        r11 = rows[10]
        assert r11.title == "临时救助对象公示" and r11.catalog_code == "05-010"
        assert r11.elements[0] == "救助对象姓名（隐去部分字）"
        assert r11.channels == ["村公示栏"]
        assert r11.last_disclosed == dt.date(2026, 10, 13)
        assert rows[0].catalog_code == ""  # self-governance


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_import_list_encodings(villages: sessionmaker[Session], tmp_path: Path, encoding: str) -> None:
    path = write_csv(tmp_path / "QH01.csv", read_csv(LISTS / "QH01.csv"), encoding)
    with villages.begin() as session:
        assert import_list(session, "QH01", path).rows == 34
    with villages() as session:
        assert list_rows(session, "QH01")[9].title == "低保对象名单公布"


def test_import_list_xlsx_with_title_row(villages: sessionmaker[Session], tmp_path: Path) -> None:
    rows = read_csv(LISTS / "QH02.csv")
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["新寨村村务公开事项清单"])
    for i, row in enumerate(rows):
        values: list[object] = list(row)
        if i and row[0]:
            values[0] = int(row[0])
            values[7] = dt.date.fromisoformat(row[7]) if row[7] else None
        ws.append(values)
    wb.save(tmp_path / "QH02.xlsx")
    with villages.begin() as session:
        assert import_list(session, "QH02", tmp_path / "QH02.xlsx").rows == 33
    with villages() as session:
        first = list_rows(session, "QH02")[0]
        assert first.seq == 1 and first.last_disclosed is not None


def test_reimport_replaces_the_list(villages: sessionmaker[Session], tmp_path: Path) -> None:
    with villages.begin() as session:
        import_list(session, "QH03", LISTS / "QH03.csv")
    rows = read_csv(LISTS / "QH03.csv")
    rows[11][7] = "2026-11-20"  # row 11 disclosed again
    del rows[32]  # row 32 gone
    path = write_csv(tmp_path / "QH03.csv", rows)
    with villages.begin() as session:
        report = import_list(session, "QH03", path)
    assert (report.updated, report.removed, report.unchanged) == ([11], [32], 30)
    with villages() as session:
        assert len(list_rows(session, "QH03")) == 31


BAD_LISTS = {
    "bad header": (lambda rows: rows[0].__setitem__(2, "公开内容要素"), "QH03", [(1, None), (1, None)]),
    "unknown village": (lambda rows: None, "QH09", [(None, None)]),
    "duplicate seq": (lambda rows: rows[12].__setitem__(0, "5"), "QH03", [(13, "序号")]),
    "bad date": (lambda rows: rows[4].__setitem__(7, "2026-02-30"), "QH03", [(5, "最近公开日期")]),
    "bad limit and channel": (
        lambda rows: (rows[3].__setitem__(3, "及时公开"), rows[6].__setitem__(4, "村公示栏；抖音")),
        "QH03",
        [(4, "公开时限"), (7, "公开渠道")],
    ),
}


@pytest.mark.parametrize("case", list(BAD_LISTS))
def test_bad_lists_are_rejected_with_lines(
    villages: sessionmaker[Session], migrated_url: str, tmp_path: Path, case: str
) -> None:
    spoil, code, expected = BAD_LISTS[case]
    with villages.begin() as session:
        import_list(session, "QH03", LISTS / "QH03.csv")
    rows = read_csv(LISTS / "QH03.csv")
    spoil(rows)
    path = write_csv(tmp_path / f"{code}.csv", rows)
    before = dump_database(migrated_url)
    with pytest.raises(ValidationFailed) as exc, villages.begin() as session:
        import_list(session, code, path)
    assert [(p.line, p.column) for p in exc.value.problems] == expected
    assert all(p.file == str(path) for p in exc.value.problems)
    assert dump_database(migrated_url) == before


def test_import_dir_is_all_or_nothing(villages: sessionmaker[Session], migrated_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "lists"
    folder.mkdir()
    for code in ("QH01", "QH02"):
        write_csv(folder / f"{code}.csv", read_csv(LISTS / f"{code}.csv"))
    bad = read_csv(LISTS / "QH03.csv")
    bad[3][7] = "去年"
    write_csv(folder / "QH03.csv", bad)
    before = dump_database(migrated_url)
    with pytest.raises(ValidationFailed) as exc, villages.begin() as session:
        import_list_dir(session, folder)
    assert [(Path(p.file).name, p.line) for p in exc.value.problems] == [("QH03.csv", 4)]
    assert dump_database(migrated_url) == before
    (folder / "QH03.csv").unlink()
    with villages.begin() as session:
        reports = import_list_dir(session, folder)
    assert [(r.village, r.rows) for r in reports] == [("QH01", 34), ("QH02", 33)]


# ------------------------------------------------------------------------------------------ repository


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("QH03", ["QH03"]),
        ("qh03", ["QH03"]),
        ("芒洪村", ["QH03"]),
        ("芒洪", ["QH03"]),
        (" 芒 洪 ", ["QH03"]),
        ("我是芒洪村的", ["QH03"]),
        ("清河村", ["QH01"]),
        ("清河镇清河村", ["QH01"]),
        ("清河镇", []),
        ("清河乡", []),
        ("大坪", ["QH05"]),
        ("云岭县", []),
        ("火星村", []),
        ("", []),
    ],
)
def test_find_villages(villages: sessionmaker[Session], text: str, expected: list[str]) -> None:
    with villages.begin() as session:
        get_village(session, "QH01").township.county = "云岭县"
    with villages() as session:
        assert [v.code for v in find_villages(session, text)] == expected


def test_find_villages_ambiguous(villages: sessionmaker[Session]) -> None:
    with villages.begin() as session:
        ts = get_village(session, "QH05").township_id
        session.add(Village(code="QH06", name="大坪新村", township_id=ts))
    with villages() as session:
        assert [v.code for v in find_villages(session, "大坪")] == ["QH05", "QH06"]
        assert [v.code for v in find_villages(session, "大坪村")] == ["QH05"]


def test_followers(villages: sessionmaker[Session]) -> None:
    with villages.begin() as session:
        bind_follower(session, "o-1", "QH03", NOW)
        bind_follower(session, "o-2", "qh03", NOW)
        bind_follower(session, "o-3", "QH01", NOW)
        with pytest.raises(NotFound):
            bind_follower(session, "o-4", "QH99", NOW)
    with villages.begin() as session:
        assert [f.openid for f in followers_of(session, "QH03")] == ["o-1", "o-2"]
        bind_follower(session, "o-2", "QH01", NOW)  # moves
        assert mark_unsubscribed(session, "o-1", NOW)
        assert unbind_follower(session, "o-3", NOW)
        assert not unbind_follower(session, "o-3", NOW)
        assert not mark_unsubscribed(session, "nobody")
    with villages() as session:
        assert followers_of(session, "QH03") == []
        assert [f.openid for f in followers_of(session, "QH01")] == ["o-2"]
        kept = get_follower(session, "o-1")
        assert kept is not None and kept.village_code == "QH03" and not kept.active


def test_channel_settings(villages: sessionmaker[Session]) -> None:
    with villages.begin() as session:
        set_group_robot(session, "QH03", "芒洪村傣语通知群", "key-1", secret_key=TEST_SECRET_KEY)
        set_group_robot(session, "QH03", "芒洪村傣语通知群", "key-2", secret_key=TEST_SECRET_KEY)
        set_channels(session, "QH03", oa_tag="芒洪村", broadcast_outbox="var/broadcast/QH03")
        with pytest.raises(NotFound):
            set_group_robot(session, "QH03", "别的群", "key", secret_key=TEST_SECRET_KEY)
    with villages() as session:
        village = get_village(session, "QH03")
        assert (village.oa_tag, village.broadcast_outbox) == ("芒洪村", "var/broadcast/QH03")
        robots = group_robots(session, "QH03")
        assert [r.group_name for r in robots] == ["芒洪村傣语通知群"]
        assert robot_webhook_key(robots[0], TEST_SECRET_KEY) == "key-2"
        assert "key-2" not in robots[0].webhook_key  # stored encrypted
