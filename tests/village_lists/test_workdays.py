"""Working days on the official Chinese calendar: 国庆 2025/2026 and 春节 2026 edge cases, the JD-010 rule."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from village_lists.workdays import add_workdays, calendar_covers, is_workday, workdays_between

D = dt.date
SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "qinghe"


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (D(2025, 9, 26), True),  # Friday before 国庆
        (D(2025, 9, 27), False),  # plain Saturday
        (D(2025, 9, 28), True),  # Sunday, 调休 make-up working day
        (D(2025, 9, 30), True),
        (D(2025, 10, 1), False),  # 国庆节
        (D(2025, 10, 6), False),  # 中秋节, inside the 2025 National Day break
        (D(2025, 10, 8), False),  # Wednesday, still holiday
        (D(2025, 10, 9), True),
        (D(2025, 10, 11), True),  # Saturday, make-up working day
        (D(2025, 10, 12), False),
        (D(2026, 2, 13), True),  # Friday before 春节 2026
        (D(2026, 2, 14), True),  # Saturday, make-up working day
        (D(2026, 2, 15), False),  # first day of the 春节 holiday
        (D(2026, 2, 16), False),  # Monday, holiday
        (D(2026, 2, 23), False),  # Monday, last day of the 春节 holiday
        (D(2026, 2, 24), True),
        (D(2026, 2, 28), True),  # Saturday, make-up working day
        (D(2026, 3, 1), False),
        (D(2026, 9, 20), True),  # Sunday, make-up working day for 国庆 2026
        (D(2026, 10, 7), False),
        (D(2026, 10, 8), True),
        (D(2026, 10, 10), True),  # Saturday, make-up working day
        (D(2026, 11, 20), True),
        (D(2026, 11, 21), False),  # the reference date is a Saturday
    ],
)
def test_is_workday_follows_the_official_calendar(day: dt.date, expected: bool) -> None:
    assert is_workday(day) is expected


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        # 国庆 2025: 10-01..10-08 off, 09-28 (Sun) and 10-11 (Sat) worked
        (D(2025, 9, 30), 1, D(2025, 10, 9)),
        (D(2025, 9, 30), 3, D(2025, 10, 11)),
        (D(2025, 9, 26), 1, D(2025, 9, 28)),
        (D(2025, 9, 27), 2, D(2025, 9, 29)),
        (D(2025, 9, 29), 5, D(2025, 10, 13)),
        (D(2025, 10, 1), 1, D(2025, 10, 9)),
        # 春节 2026: 02-15..02-23 off, 02-14 (Sat) and 02-28 (Sat) worked
        (D(2026, 2, 13), 1, D(2026, 2, 14)),
        (D(2026, 2, 13), 2, D(2026, 2, 24)),
        (D(2026, 2, 12), 5, D(2026, 2, 26)),
        (D(2026, 2, 14), 1, D(2026, 2, 24)),
        (D(2026, 2, 27), 1, D(2026, 2, 28)),
        (D(2026, 2, 28), 1, D(2026, 3, 2)),
        (D(2026, 2, 10), 10, D(2026, 3, 2)),
        # 国庆 2026: 10-01..10-07 off, 09-20 (Sun) and 10-10 (Sat) worked
        (D(2026, 9, 19), 1, D(2026, 9, 20)),
        (D(2026, 9, 30), 1, D(2026, 10, 8)),
        (D(2026, 10, 9), 1, D(2026, 10, 10)),
        # ordinary weeks, and n = 0
        (D(2026, 11, 20), 1, D(2026, 11, 23)),
        (D(2026, 11, 21), 0, D(2026, 11, 21)),
    ],
)
def test_add_workdays_across_holidays(start: dt.date, n: int, expected: dt.date) -> None:
    assert add_workdays(start, n) == expected
    assert workdays_between(start, expected) == n


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (D(2025, 9, 30), D(2025, 10, 8), 0),
        (D(2025, 9, 30), D(2025, 10, 9), 1),
        (D(2025, 9, 26), D(2025, 10, 12), 6),  # 28 (Sun), 29, 30 Sept; 9, 10, 11 (Sat) Oct
        (D(2026, 2, 13), D(2026, 2, 28), 6),  # 14, 24, 25, 26, 27, 28
        (D(2026, 2, 28), D(2026, 2, 13), -6),
        (D(2026, 5, 12), D(2026, 5, 26), 10),
        (D(2026, 5, 12), D(2026, 5, 12), 0),
    ],
)
def test_workdays_between(a: dt.date, b: dt.date, expected: int) -> None:
    assert workdays_between(a, b) == expected


def test_jd010_three_working_day_rule() -> None:
    """README §2: JD-010 (published 2026-05-12, interpreted 2026-05-26) is late: the 10th working day."""
    deadline = add_workdays(D(2026, 5, 12), 3)
    assert deadline == D(2026, 5, 15)
    assert D(2026, 5, 26) > deadline
    assert workdays_between(D(2026, 5, 12), D(2026, 5, 26)) == 10


def _front_matter(path: Path) -> dict[str, object]:
    text = path.read_text(encoding="utf-8")
    _, head, _ = text.split("---\n", 2)
    data = yaml.safe_load(head)
    assert isinstance(data, dict)
    return data


def test_exactly_jd010_is_late_in_the_sample() -> None:
    late = []
    for path in sorted((SAMPLE / "interpretations").glob("JD-*.md")):
        meta = _front_matter(path)
        published, interpreted = meta["published"], meta["interpreted"]
        assert isinstance(published, dt.date) and isinstance(interpreted, dt.date)
        if interpreted > add_workdays(published, 3):
            late.append(meta["id"])
    assert late == ["JD-010"]


def test_calendar_coverage_and_weekday_fallback() -> None:
    assert calendar_covers(2025)
    assert calendar_covers(2026)
    assert not calendar_covers(1999)
    assert not calendar_covers(2099)
    # 2099-10-01 is a Thursday: outside the calendar only Monday–Friday counts, no holidays are known.
    assert is_workday(D(2099, 10, 1))
    assert not is_workday(D(2099, 10, 3))
    assert add_workdays(D(2099, 10, 2), 1) == D(2099, 10, 5)
    assert workdays_between(D(1999, 9, 30), D(1999, 10, 8)) == 6


def test_negative_workdays_rejected() -> None:
    with pytest.raises(ValueError, match="不能为负数"):
        add_workdays(D(2026, 1, 5), -1)


def test_datetime_is_treated_as_its_date() -> None:
    assert is_workday(dt.datetime(2025, 10, 1, 9, 30)) is False
    assert add_workdays(dt.datetime(2025, 9, 30, 18, 0), 1) == D(2025, 10, 9)


dates = st.dates(min_value=D(2004, 1, 1), max_value=D(2030, 12, 31))  # spans covered and fallback years


@given(dates, st.integers(min_value=1, max_value=60))
def test_add_workdays_lands_on_a_workday_n_workdays_later(d: dt.date, n: int) -> None:
    result = add_workdays(d, n)
    assert result > d
    assert is_workday(result)
    assert workdays_between(d, result) == n
    assert workdays_between(d, result - dt.timedelta(days=1)) == n - 1


@given(dates, dates)
def test_workdays_between_is_antisymmetric_and_additive(a: dt.date, b: dt.date) -> None:
    assert workdays_between(a, b) == -workdays_between(b, a)
    mid = min(a, b) + (max(a, b) - min(a, b)) // 2
    assert workdays_between(a, mid) + workdays_between(mid, b) == workdays_between(a, b)
