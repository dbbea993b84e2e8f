"""Working days (工作日) on the official Chinese calendar.

Inside the years covered by the installed ``chinesecalendar`` package (import name ``chinese_calendar``)
a working day follows the State Council's yearly holiday schedule: statutory holidays (法定节假日) are
days off even on a weekday, and make-up working days (调休上班, usually a Saturday or Sunday next to a
long holiday) are working days.

Outside those years — the schedule for a year is only published each November or December, and the
package must be upgraded to learn it — the functions fall back to plain Monday–Friday. Use
:func:`calendar_covers` to know which rule applies to a year, and upgrade ``chinesecalendar`` every
winter to keep due dates right.

Convention: a period "N working days after d" does not count ``d`` itself (as 民法典第二百零一条 does
for periods counted in days): :func:`add_workdays` returns the N-th working day strictly after ``d``,
and :func:`workdays_between` counts the working days in ``(a, b]``, so that
``workdays_between(d, add_workdays(d, n)) == n``.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import chinese_calendar

__all__ = ["add_workdays", "calendar_covers", "is_workday", "workdays_between"]

_ONE_DAY = dt.timedelta(days=1)


@lru_cache(maxsize=256)
def calendar_covers(year: int) -> bool:
    """Whether the installed holiday calendar knows the official schedule of ``year``.

    When it does not, :func:`is_workday` treats Monday–Friday as working days for that year.
    """
    try:
        chinese_calendar.is_workday(dt.date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


@lru_cache(maxsize=64)
def _official_workdays(year: int) -> frozenset[dt.date]:
    """Every working day of a covered ``year``, read once from the official calendar."""
    day = dt.date(year, 1, 1)
    found: set[dt.date] = set()
    while day.year == year:
        if chinese_calendar.is_workday(day):
            found.add(day)
        day += _ONE_DAY
    return frozenset(found)


def is_workday(d: dt.date) -> bool:
    """Whether ``d`` is a working day: the official calendar where covered, else Monday–Friday."""
    if isinstance(d, dt.datetime):
        d = d.date()
    if calendar_covers(d.year):
        return d in _official_workdays(d.year)
    return d.weekday() < 5


def add_workdays(d: dt.date, n: int) -> dt.date:
    """The ``n``-th working day after ``d`` (``d`` itself never counts); ``d`` unchanged when ``n`` is 0.

    Raises ``ValueError`` for a negative ``n``.
    """
    if n < 0:
        raise ValueError(f"工作日数不能为负数：{n}")
    if isinstance(d, dt.datetime):
        d = d.date()
    day = d
    remaining = n
    while remaining:
        day += _ONE_DAY
        if is_workday(day):
            remaining -= 1
    return day


def workdays_between(a: dt.date, b: dt.date) -> int:
    """The number of working days after ``a`` up to and including ``b``; negative when ``b`` is before ``a``.

    ``workdays_between(a, b) == -workdays_between(b, a)``, and ``workdays_between(d, d) == 0``.
    """
    if isinstance(a, dt.datetime):
        a = a.date()
    if isinstance(b, dt.datetime):
        b = b.date()
    if b < a:
        return -workdays_between(b, a)
    count = 0
    day = a
    while day < b:
        day += _ONE_DAY
        if is_workday(day):
            count += 1
    return count
