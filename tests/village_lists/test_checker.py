"""The consistency checker on the sample township (both backends) and on one defect at a time."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import SAMPLE, Cunwu
from village_lists.checker import (
    DEFECT_KINDS,
    DUPLICATE,
    LOOSER_LIMIT,
    MISSING_ELEMENTS,
    MISSING_MUST_CARRY,
    NEEDS_REVIEW,
    OVERDUE,
    UNKNOWN_CODE,
    Defect,
    check_all,
    check_village,
)
from village_lists.models import ListRow

TODAY = dt.date(2026, 11, 21)
Key = tuple[str, object, str]


@pytest.fixture
def sample(cunwu: Cunwu, session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    cunwu.ok("load-sample")
    return session_factory


def _key(village: str, row: int | None, kind: str, code_or_detail: str | None) -> Key:
    """The README's matching key: (village, row, kind), or (village, kind, code) for a missing item."""
    if kind == MISSING_MUST_CARRY:
        return (village, kind, (code_or_detail or "").split()[0])
    return (village, row, kind)


def _known() -> list[Key]:
    with (SAMPLE / "known_defects.csv").open(encoding="utf-8", newline="") as fh:
        return [
            _key(r["村编码"], int(r["序号"]) if r["序号"] else None, r["缺陷类型"], r["说明"])
            for r in csv.DictReader(fh)
        ]


def _found(defects: list[Defect]) -> list[Key]:
    return [_key(d.village, d.row, d.kind, d.code) for d in defects]


def test_exactly_the_known_defects(sample: sessionmaker[Session]) -> None:
    with sample() as session:
        defects = check_all(session, TODAY)
    known = _known()
    assert len(known) == 20
    assert sorted(_found(defects), key=repr) == sorted(known, key=repr)
    assert not [d for d in defects if d.village in ("QH01", "QH02")]


def test_codes_match_the_known_descriptions(sample: sessionmaker[Session]) -> None:
    """Each 说明 starts with the code (or the self-governance item's name): so does our detail."""
    with sample() as session:
        defects = {(d.village, d.row, d.kind, d.code): d for d in check_all(session, TODAY)}
    with (SAMPLE / "known_defects.csv").open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            head = r["说明"].split("：")[0].split()[0]
            match = [
                d
                for (v, row, kind, _), d in defects.items()
                if v == r["村编码"]
                and kind == r["缺陷类型"]
                and (row == (int(r["序号"]) if r["序号"] else None))
                and d.detail.startswith(head)
            ]
            assert match, r


def test_details_tell_the_cadre_what_to_do(sample: sessionmaker[Session]) -> None:
    with sample() as session:
        by_row = {(d.village, d.row): d for d in check_all(session, TODAY) if d.row is not None}
    looser = by_row[("QH03", 11)]
    assert looser.code == "05-010"
    assert "每季度公开一次" in looser.detail and "每半年公开一次" in looser.detail and "请" in looser.detail
    overdue = by_row[("QH03", 13)]
    assert "2026-04-10" in overdue.detail and "225天" in overdue.detail
    assert by_row[("QH04", 1)].code is None and by_row[("QH04", 1)].detail.startswith("村级财务收支情况")
    assert "“财政补助标准”“待遇等待期”" in by_row[("QH05", 17)].detail
    assert "第21行" in by_row[("QH05", 29)].detail
    assert by_row[("QH05", 30)].code == "2312"
    assert all(d.kind in DEFECT_KINDS for d in by_row.values())


def test_defects_depend_on_the_date(sample: sessionmaker[Session]) -> None:
    with sample() as session:
        earlier = check_village(session, "QH03", dt.date(2026, 6, 1))
        later = check_village(session, "QH01", dt.date(2027, 11, 21))
    assert not [d for d in earlier if d.kind == OVERDUE]
    assert {d.kind for d in later} == {OVERDUE}


# ------------------------------------------------------------------------ one defect kind at a time


def _edit(sample: sessionmaker[Session], seq: int, change: Callable[[ListRow], None], village: str = "QH01") -> None:
    with sample.begin() as session:
        row = session.get(ListRow, (village, seq))
        assert row is not None
        change(row)


def _qh01(sample: sessionmaker[Session], today: dt.date = TODAY) -> list[Defect]:
    with sample() as session:
        return check_village(session, "QH01", today)


def _row_of(sample: sessionmaker[Session], code: str, village: str = "QH01") -> ListRow:
    with sample() as session:
        row = session.scalar(select(ListRow).where(ListRow.village_code == village, ListRow.catalog_code == code))
        assert row is not None
        return row


def test_unknown_code_is_not_compared(sample: sessionmaker[Session]) -> None:
    seq = _row_of(sample, "05-002").seq  # not must-carry: changing its code loses no must-carry item

    def change(row: ListRow) -> None:
        row.catalog_code = "05-099"
        row.elements = ["只有一项"]
        row.time_limit = "每年公开一次"

    _edit(sample, seq, change)
    defects = _qh01(sample)
    assert [(d.row, d.kind, d.code) for d in defects] == [(seq, UNKNOWN_CODE, "05-099")]


def test_retired_code_is_unknown(sample: sessionmaker[Session]) -> None:
    from content.models import CatalogItem

    seq = _row_of(sample, "05-002").seq
    with sample.begin() as session:
        item = session.scalar(select(CatalogItem).where(CatalogItem.code == "05-002"))
        assert item is not None
        item.status = "retired"
    defects = _qh01(sample)
    assert [(d.row, d.kind) for d in defects] == [(seq, UNKNOWN_CODE)]
    assert "停用" in defects[0].detail


def test_missing_elements_one_defect_per_row(sample: sessionmaker[Session]) -> None:
    row = _row_of(sample, "05-004")
    _edit(sample, row.seq, lambda r: setattr(r, "elements", [*r.elements[2:], "村里多列的要素"]))
    defects = _qh01(sample)
    assert [(d.row, d.kind, d.code) for d in defects] == [(row.seq, MISSING_ELEMENTS, "05-004")]
    assert all(f"“{e}”" in defects[0].detail for e in row.elements[:2])


def test_looser_and_stricter_time_limits(sample: sessionmaker[Session]) -> None:
    looser = _row_of(sample, "05-004")  # 公示期不少于7天
    stricter = _row_of(sample, "25-008")  # 信息形成或变更之日起10个工作日内
    _edit(sample, looser.seq, lambda r: setattr(r, "time_limit", "公示期不少于5天"))
    _edit(sample, stricter.seq, lambda r: setattr(r, "time_limit", "信息形成或变更之日起5个工作日内"))
    defects = _qh01(sample)
    assert [(d.row, d.kind, d.code) for d in defects] == [(looser.seq, LOOSER_LIMIT, "05-004")]


def test_different_kinds_of_time_limit_need_a_person(sample: sessionmaker[Session]) -> None:
    row = _row_of(sample, "05-004")
    _edit(sample, row.seq, lambda r: setattr(r, "time_limit", "常态公开"))
    defects = _qh01(sample)
    assert [(d.row, d.kind) for d in defects] == [(row.seq, NEEDS_REVIEW)]
    assert "人工" in defects[0].detail


def test_missing_must_carry_item(sample: sessionmaker[Session]) -> None:
    row = _row_of(sample, "21-002")
    with sample.begin() as session:
        session.delete(session.get(ListRow, ("QH01", row.seq)))
    defects = _qh01(sample)
    assert [(d.row, d.kind, d.code) for d in defects] == [(None, MISSING_MUST_CARRY, "21-002")]
    assert defects[0].as_dict()["row"] is None


def test_overdue_boundary_and_empty_date(sample: sessionmaker[Session]) -> None:
    quarterly = _row_of(sample, "05-010")  # 每季度公开一次: 92 + 15 days
    _edit(sample, quarterly.seq, lambda r: setattr(r, "last_disclosed", TODAY - dt.timedelta(days=107)))
    assert _qh01(sample) == []
    _edit(sample, quarterly.seq, lambda r: setattr(r, "last_disclosed", TODAY - dt.timedelta(days=108)))
    assert [(d.row, d.kind) for d in _qh01(sample)] == [(quarterly.seq, OVERDUE)]
    _edit(sample, quarterly.seq, lambda r: setattr(r, "last_disclosed", None))
    defects = _qh01(sample)
    assert [(d.row, d.kind) for d in defects] == [(quarterly.seq, OVERDUE)]
    assert "没有最近公开日期" in defects[0].detail


def test_overdue_uses_the_shorter_catalog_period(sample: sessionmaker[Session]) -> None:
    """A row written looser than a periodic catalog limit is overdue by the catalog's period."""
    row = _row_of(sample, "05-010")  # catalog: 每季度公开一次

    def change(r: ListRow) -> None:
        r.time_limit = "每年公开一次"
        r.last_disclosed = TODAY - dt.timedelta(days=200)

    _edit(sample, row.seq, change)
    kinds = sorted(d.kind for d in _qh01(sample))
    assert kinds == sorted([LOOSER_LIMIT, OVERDUE])


def test_self_governance_rows_only_checked_for_overdue(sample: sessionmaker[Session]) -> None:
    def change(r: ListRow) -> None:
        r.elements = ["收入明细"]
        r.last_disclosed = dt.date(2026, 1, 1)

    _edit(sample, 1, change)  # 村级财务收支情况, 每季度公开一次
    defects = _qh01(sample)
    assert [(d.row, d.kind, d.code) for d in defects] == [(1, OVERDUE, None)]


def test_duplicates_after_the_first_occurrence(sample: sessionmaker[Session]) -> None:
    first = _row_of(sample, "05-004")
    other = _row_of(sample, "10-003")  # a later row, not must-carry
    _edit(sample, other.seq, lambda r: setattr(r, "catalog_code", "05-004"))
    defects = _qh01(sample)
    assert [(d.row, d.kind, d.code) for d in defects] == [(other.seq, DUPLICATE, "05-004")]
    assert f"第{first.seq}行" in defects[0].detail


def test_unknown_village(sample: sessionmaker[Session]) -> None:
    from core.errors import NotFound

    with sample() as session, pytest.raises(NotFound):
        check_village(session, "QH99", TODAY)
