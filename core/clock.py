"""An injectable clock, so reports and checks can run "as of" a date and tests control time."""

from __future__ import annotations

import datetime as dt
from typing import Protocol
from zoneinfo import ZoneInfo

CHINA_TZ = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> dt.datetime: ...

    def today(self) -> dt.date: ...


class SystemClock:
    def __init__(self, tz: dt.tzinfo = CHINA_TZ) -> None:
        self.tz = tz

    def now(self) -> dt.datetime:
        return dt.datetime.now(self.tz)

    def today(self) -> dt.date:
        return self.now().date()


class FixedClock:
    """A clock that says what it is told; ``advance`` moves it."""

    def __init__(self, at: dt.datetime | dt.date, tz: dt.tzinfo = CHINA_TZ) -> None:
        if not isinstance(at, dt.datetime):
            at = dt.datetime.combine(at, dt.time(9, 0))
        if at.tzinfo is None:
            at = at.replace(tzinfo=tz)
        self._now = at

    def now(self) -> dt.datetime:
        return self._now

    def today(self) -> dt.date:
        return self._now.date()

    def advance(self, **kwargs: float) -> None:
        self._now += dt.timedelta(**kwargs)
