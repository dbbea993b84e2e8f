"""Sync: proposed changes, applied in one transaction, leaving what a person must decide."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Cunwu
from tests.helpers import dump_database
from village_lists.checker import OVERDUE, UNKNOWN_CODE, check_village
from village_lists.models import ListRow
from village_lists.repository import list_rows
from village_lists.sync import AddRow, DropRow, SetElements, SetTimeLimit, SyncConflict, apply_sync, plan_sync

TODAY = dt.date(2026, 11, 21)


@pytest.fixture
def sample(cunwu: Cunwu, session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    cunwu.ok("load-sample")
    return session_factory


def _snapshot(rows: list[ListRow]) -> dict[int, tuple[object, ...]]:
    return {
        r.seq: (
            r.title,
            list(r.elements),
            r.time_limit,
            list(r.channels),
            r.responsible,
            r.catalog_code,
            r.last_disclosed,
        )
        for r in rows
    }


@pytest.mark.parametrize("code", ["QH03", "QH04", "QH05"])
def test_sync_leaves_only_overdue_and_unknown_codes(sample: sessionmaker[Session], code: str) -> None:
    with sample() as session:
        before = _snapshot(list_rows(session, code))
        defects_before = check_village(session, code, TODAY)
    with sample.begin() as session:
        plan = plan_sync(session, code, TODAY)
        assert apply_sync(session, plan) == len(plan.changes) > 0
    with sample() as session:
        after_rows = list_rows(session, code)
        after = _snapshot(after_rows)
        defects = check_village(session, code, TODAY)
    assert {d.kind for d in defects} <= {OVERDUE, UNKNOWN_CODE}
    # every overdue or unknown-code finding that was there is still there (reported, not "fixed")
    kept = {(d.row, d.kind) for d in defects_before if d.kind in (OVERDUE, UNKNOWN_CODE)}
    assert kept <= {(d.row, d.kind) for d in defects}
    # new overdue findings only for added periodic rows without a date
    added = {ch.seq for ch in plan.changes if isinstance(ch, AddRow)}
    assert {d.row for d in defects if (d.row, d.kind) not in kept} <= added
    # self-governance rows untouched
    assert {s: v for s, v in before.items() if not v[5]} == {s: v for s, v in after.items() if not v[5]}
    # unknown codes untouched
    for d in defects_before:
        if d.kind == UNKNOWN_CODE:
            assert after[d.row] == before[d.row]  # type: ignore[index]
    # no invented dates: every row's date is the one it had, new rows have none
    for seq, values in after.items():
        assert values[6] == (before[seq][6] if seq in before and seq not in added else None)
    assert set(plan.unresolved) >= {d for d in defects_before if d.kind in (OVERDUE, UNKNOWN_CODE)}


def test_qh03_plan_in_detail(sample: sessionmaker[Session]) -> None:
    with sample() as session:
        plan = plan_sync(session, "QH03", TODAY)
    by_type = {type(ch).__name__: ch for ch in plan.changes}
    assert [(type(ch).__name__, ch.seq, ch.code) for ch in plan.changes] == [
        ("SetTimeLimit", 11, "05-010"),
        ("SetElements", 22, "19-003"),
        ("DropRow", 32, "05-004"),
        ("AddRow", 32, "12-004"),
        ("AddRow", 33, "21-002"),
    ]
    tl = by_type["SetTimeLimit"]
    assert isinstance(tl, SetTimeLimit) and (tl.before, tl.after) == ("每半年公开一次", "每季度公开一次")
    el = by_type["SetElements"]
    assert isinstance(el, SetElements) and el.added == ["监督电话"] and el.after[: len(el.before)] == el.before
    drop = by_type["DropRow"]
    assert isinstance(drop, DropRow) and drop.duplicate_of == 8
    diff = plan.diff()
    for text in (
        "- 第32行（删除，与第8行重复）05-004",
        "+     公开时限：每季度公开一次",
        "+ 第33行（新增必备事项）21-002",
        "补上公开内容 监督电话",
        "需要人工处理",
        "06-003",
    ):
        assert text in diff


def test_plan_writes_nothing_and_consistent_list_needs_nothing(
    sample: sessionmaker[Session], migrated_url: str
) -> None:
    before = dump_database(migrated_url)
    with sample() as session:
        plan_sync(session, "QH05", TODAY)
        clean = plan_sync(session, "QH01", TODAY)
    assert dump_database(migrated_url) == before
    assert clean.is_empty and clean.unresolved == [] and "无需修改" in clean.diff()


def test_apply_refuses_a_stale_plan(sample: sessionmaker[Session], migrated_url: str) -> None:
    with sample() as session:
        plan = plan_sync(session, "QH04", TODAY)
    with sample.begin() as session:
        row = session.get(ListRow, ("QH04", 20))
        assert row is not None
        row.time_limit = "公示期不少于5天"
    before = dump_database(migrated_url)
    with pytest.raises(SyncConflict), sample.begin() as session:
        apply_sync(session, plan)
    assert dump_database(migrated_url) == before


def test_sync_twice_changes_nothing_more(sample: sessionmaker[Session]) -> None:
    with sample.begin() as session:
        apply_sync(session, plan_sync(session, "QH05", TODAY))
    with sample() as session:
        again = plan_sync(session, "QH05", TODAY)
    assert again.is_empty
    assert {d.kind for d in again.unresolved} == {OVERDUE, UNKNOWN_CODE}
