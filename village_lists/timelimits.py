"""Disclosure time limits (公开时限): parse, compare, and compute due dates.

The catalog and the village lists use the vocabulary of data README §6::

    实时公开 / 常态公开                                   realtime / standing
    每周|每月|每季度|每半年|每年公开一次                    periodic, n = 7 / 31 / 92 / 183 / 366 days
    信息形成或变更之日起N个工作日内                         deadline, trigger 信息形成或变更, workday
    收到申请之日起N个工作日内                               deadline, trigger 收到申请, workday
    作出决定之日起N日内 / 批准后N日内                       deadline, trigger 作出决定 / 批准, day
    公示期不少于N天 / 公告期不少于N天                       min_publicity, unit day
    公告期不少于N个工作日                                   min_publicity, unit workday

Two forms joined by ``；`` ``，`` ``并`` or ``且`` parse as ``combined`` (both apply). Before matching,
the text is NFKC-normalised (full-width digits and punctuation become ASCII) and all whitespace is
removed; N may be written in Chinese numerals (十五, 三十, 一百二十). A few unambiguous wording variants
seen in real lists are accepted (``每季度公开1次``, ``每月一次``, ``自…之日起…以内``, ``不得少于``,
``常态化公开``, ``长期公开``, and ``公示期为N天`` / ``公示N天`` read as a publicity period of N days…).
Anything else raises :class:`TimeLimitError`; nothing is guessed — in particular
phrases naming a calendar date (``次年3月底前``), a frequency other than once (``每年公开两次``) or a
vague promptness (``及时公开``) are rejected.

Comparison (:func:`compare`) follows §6: automatic only within the same kind.

* ``realtime`` / ``standing``: SAME only with the same kind.
* ``periodic``: the shorter period is stricter.
* ``deadline``: same trigger required (else NOT_COMPARABLE); same unit → the smaller N is stricter.
* ``min_publicity``: the larger N is stricter; 公示期 and 公告期 compare alike.
* Mixed units (calendar days vs working days, same kind and trigger) are compared *conservatively*,
  using only the fact that N working days always span at least N calendar days: STRICTER when the
  village can never be looser whatever the calendar, LOOSER when it can never be stricter, else
  NOT_COMPARABLE (manual review). So a deadline of N日 against M个工作日 is STRICTER when N ≤ M and
  N个工作日 against M日 is LOOSER when N ≥ M; a publicity period of N个工作日 against M天 is STRICTER
  when N ≥ M and N天 against M个工作日 is LOOSER when N ≤ M. (At equal N the two can coincide only
  when the span holds no rest day.)
* ``combined``: each catalog part must be matched by a comparable village part (else NOT_COMPARABLE);
  any looser part makes the whole LOOSER; all parts SAME with no extra village part is SAME;
  otherwise STRICTER.
* Different kinds: NOT_COMPARABLE.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from core.errors import AppError
from village_lists.workdays import add_workdays

__all__ = [
    "PERIODS",
    "Comparison",
    "Kind",
    "TimeLimit",
    "TimeLimitError",
    "Unit",
    "compare",
    "due_date",
    "parse_time_limit",
    "period_days",
]

Unit = Literal["workday", "day"]


class Kind(StrEnum):
    REALTIME = "realtime"
    STANDING = "standing"
    PERIODIC = "periodic"
    DEADLINE = "deadline"
    MIN_PUBLICITY = "min_publicity"
    COMBINED = "combined"


class Comparison(StrEnum):
    """How a village time limit relates to the catalog's."""

    STRICTER = "stricter"
    SAME = "same"
    LOOSER = "looser"
    NOT_COMPARABLE = "not_comparable"

    @property
    def label(self) -> str:
        return _COMPARISON_LABELS[self]


_COMPARISON_LABELS = {
    Comparison.STRICTER: "更严格",
    Comparison.SAME: "相同",
    Comparison.LOOSER: "放宽",
    Comparison.NOT_COMPARABLE: "需人工判定",
}


class TimeLimitError(AppError, ValueError):
    """A 公开时限 phrase that cannot be parsed; the message (Chinese) quotes the phrase."""


#: Period name → period length in days (README §6).
PERIODS: dict[str, int] = {"周": 7, "月": 31, "季度": 92, "半年": 183, "年": 366}

TRIGGER_INFO = "信息形成或变更"
TRIGGER_APPLICATION = "收到申请"
TRIGGER_DECISION = "作出决定"
TRIGGER_APPROVAL = "批准"
PUBLICITY_SHISHI = "公示期"
PUBLICITY_GONGGAO = "公告期"


@dataclass(frozen=True)
class TimeLimit:
    """One parsed 公开时限.

    ``n``: period days (periodic), N (deadline, min_publicity), else ``None``.
    ``unit``: ``"day"`` (periodic, calendar-day deadline or publicity) or ``"workday"``, else ``None``.
    ``trigger``: the deadline's starting event (信息形成或变更 / 收到申请 / 作出决定 / 批准) or, for
    min_publicity, 公示期 / 公告期; else ``None``.
    ``text``: the phrase as written. ``parts``: the forms of a ``combined`` limit, else empty.
    """

    kind: Kind
    n: int | None
    unit: Unit | None
    trigger: str | None
    text: str
    parts: tuple[TimeLimit, ...] = ()

    @property
    def canonical(self) -> str:
        """The standard §6 wording of this limit (parts joined by ``；`` when combined)."""
        if self.kind is Kind.REALTIME:
            return "实时公开"
        if self.kind is Kind.STANDING:
            return "常态公开"
        if self.kind is Kind.PERIODIC:
            name = next((k for k, v in PERIODS.items() if v == self.n), f"{self.n}天")
            return f"每{name}公开一次"
        if self.kind is Kind.DEADLINE:
            unit = "个工作日" if self.unit == "workday" else "日"
            joint = "后" if self.trigger == TRIGGER_APPROVAL else "之日起"
            return f"{self.trigger}{joint}{self.n}{unit}内"
        if self.kind is Kind.MIN_PUBLICITY:
            unit = "个工作日" if self.unit == "workday" else "天"
            return f"{self.trigger}不少于{self.n}{unit}"
        return "；".join(p.canonical for p in self.parts)


# --------------------------------------------------------------------------------------------- parsing

_CN_DIGITS = {ch: i for i, ch in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
_NUM = r"(?P<num>\d+|[零〇一二两三四五六七八九十百]+)"
_SPLIT = re.compile(r"[;,]|并且|并|且|以及|同时")
_TRAIL = re.compile(r"[。.]+$")
_ACTION = r"(?:公开|予以公开|进行公开|更新|发布)?"

_REALTIME = re.compile(r"实时(?:公开|更新)?")
_STANDING = re.compile(r"(?:常态化?|长期)公开")
_PERIODIC = re.compile(
    rf"(?:至少)?每(?:一|个)?(?P<period>周|星期|月|季度|季|半年|年(?:度)?)(?:公开|更新)?(?:(?:一|1)次)?{_ACTION}"
)
_TRIGGERS = {
    TRIGGER_INFO: r"信息形成(?:或者?|、|/)?变更|信息形成\(变更\)",
    TRIGGER_APPLICATION: r"收到(?:公开)?申请",
    TRIGGER_DECISION: r"作出(?:决定|批准决定)",
    TRIGGER_APPROVAL: r"批准",
}
_DEADLINE = re.compile(
    r"自?(?P<trigger>" + "|".join(f"(?:{p})" for p in _TRIGGERS.values()) + r")"
    r"(?:之日起|之日后|之日|起|后)" + _NUM + r"(?P<unit>个工作日|工作日|个自然日|自然日|日|天)(?:以内|内)" + _ACTION
)
_MIN_PUBLICITY = re.compile(
    r"(?P<what>公示|公告)(?:期|时间)?(?:不少于|不得少于|不低于|至少|为)?"
    + _NUM
    + r"(?P<unit>个工作日|工作日|个自然日|自然日|天|日)"
)
_PERIOD_ALIASES = {"星期": "周", "季": "季度", "年度": "年"}


def _number(raw: str, text: str) -> int:
    """An ASCII or Chinese numeral (up to 999) as int; ``TimeLimitError`` if malformed or not positive."""
    value = int(raw) if raw.isdigit() else _chinese_number(raw)
    if value is None:
        raise TimeLimitError(f"公开时限“{text}”中的数字“{raw}”无法识别")
    if value <= 0:
        raise TimeLimitError(f"公开时限“{text}”中的天数必须是正整数")
    return value


def _chinese_number(raw: str) -> int | None:
    """Parse 十五 / 三十 / 二十一 / 一百二十 / 一百零五 / 七; ``None`` when malformed."""
    total = 0
    digit: int | None = None
    seen_units: list[int] = []
    for ch in raw:
        if ch in _CN_DIGITS:
            if digit:
                return None  # two digits in a row (三五, 五零); only 零 may precede another digit
            digit = _CN_DIGITS[ch]
            continue
        unit = 100 if ch == "百" else 10
        if seen_units and unit >= seen_units[-1]:
            return None  # 十百, 十十
        if digit is None:
            if unit != 10 or seen_units:
                return None  # bare 百, or 一百十
            digit = 1  # 十五 = 15
        total += digit * unit
        seen_units.append(unit)
        digit = None
    if digit is not None:
        total += digit
    return total


def _normalise(text: str) -> str:
    norm = unicodedata.normalize("NFKC", text)
    norm = "".join(ch for ch in norm if not ch.isspace())
    return _TRAIL.sub("", norm)


def _unit(raw: str) -> Unit:
    return "workday" if "工作日" in raw else "day"


def _parse_one(part: str, text: str) -> TimeLimit:
    if _REALTIME.fullmatch(part):
        return TimeLimit(Kind.REALTIME, None, None, None, text)
    if _STANDING.fullmatch(part):
        return TimeLimit(Kind.STANDING, None, None, None, text)
    m = _PERIODIC.fullmatch(part)
    if m:
        period = _PERIOD_ALIASES.get(m["period"], m["period"])
        return TimeLimit(Kind.PERIODIC, PERIODS[period], "day", None, text)
    m = _DEADLINE.fullmatch(part)
    if m:
        trigger = next(name for name, pattern in _TRIGGERS.items() if re.fullmatch(pattern, m["trigger"]))
        return TimeLimit(Kind.DEADLINE, _number(m["num"], text), _unit(m["unit"]), trigger, text)
    m = _MIN_PUBLICITY.fullmatch(part)
    if m:
        label = PUBLICITY_SHISHI if m["what"] == "公示" else PUBLICITY_GONGGAO
        return TimeLimit(Kind.MIN_PUBLICITY, _number(m["num"], text), _unit(m["unit"]), label, text)
    if part.startswith("次年") or "月底" in part or re.search(r"\d+月", part):
        raise TimeLimitError(f"无法识别的公开时限：“{text}”（按日历日期规定的时限无法自动换算，请改用标准写法）")
    if part.startswith("每") and "次" in part:
        raise TimeLimitError(f"无法识别的公开时限：“{text}”（周期型时限只支持“每…公开一次”）")
    raise TimeLimitError(
        f"无法识别的公开时限：“{text}”。请使用标准写法，如“每季度公开一次”“信息形成或变更之日起20个工作日内”“公示期不少于7天”"
    )


def parse_time_limit(text: str) -> TimeLimit:
    """Parse one 公开时限 phrase; raise :class:`TimeLimitError` (Chinese message) if it is not recognised."""
    norm = _normalise(text)
    if not norm:
        raise TimeLimitError("公开时限为空")
    pieces = [p for p in _SPLIT.split(norm) if p]
    if not pieces:
        raise TimeLimitError(f"无法识别的公开时限：“{text}”")
    if len(pieces) == 1:
        return _parse_one(pieces[0], text)
    try:
        parts = tuple(_parse_one(p, p) for p in pieces)
    except TimeLimitError as exc:
        raise TimeLimitError(f"{exc.message}（出自组合时限“{text}”）") from None
    return TimeLimit(Kind.COMBINED, None, None, None, text, parts)


# ------------------------------------------------------------------------------------------ comparison

_RANK = {Comparison.LOOSER: 0, Comparison.SAME: 1, Comparison.STRICTER: 2}


def _by_number(village_n: int, catalog_n: int, *, smaller_is_stricter: bool) -> Comparison:
    if village_n == catalog_n:
        return Comparison.SAME
    stricter = village_n < catalog_n if smaller_is_stricter else village_n > catalog_n
    return Comparison.STRICTER if stricter else Comparison.LOOSER


def _compare_simple(village: TimeLimit, catalog: TimeLimit) -> Comparison:
    if village.kind is not catalog.kind:
        return Comparison.NOT_COMPARABLE
    if village.kind in (Kind.REALTIME, Kind.STANDING):
        return Comparison.SAME
    assert village.n is not None and catalog.n is not None
    vn, cn = village.n, catalog.n
    if village.kind is Kind.PERIODIC:
        return _by_number(vn, cn, smaller_is_stricter=True)
    if village.kind is Kind.DEADLINE:
        if village.trigger != catalog.trigger:
            return Comparison.NOT_COMPARABLE
        if village.unit == catalog.unit:
            return _by_number(vn, cn, smaller_is_stricter=True)
        # N working days end on or after the N-th calendar day.
        if village.unit == "workday":  # N个工作日 vs M日: never earlier when N ≥ M
            return Comparison.LOOSER if vn >= cn else Comparison.NOT_COMPARABLE
        return Comparison.STRICTER if vn <= cn else Comparison.NOT_COMPARABLE  # N日 vs M个工作日
    # MIN_PUBLICITY
    if village.unit == catalog.unit:
        return _by_number(vn, cn, smaller_is_stricter=False)
    if village.unit == "workday":  # N个工作日 span at least N days: never shorter than M天 when N ≥ M
        return Comparison.STRICTER if vn >= cn else Comparison.NOT_COMPARABLE
    # N天 hold at most N working days: never longer than M个工作日 when N ≤ M
    return Comparison.LOOSER if vn <= cn else Comparison.NOT_COMPARABLE


def compare(village: TimeLimit, catalog: TimeLimit) -> Comparison:
    """How the village's limit relates to the catalog's (see the module docstring for the rules)."""
    if village.kind is not Kind.COMBINED and catalog.kind is not Kind.COMBINED:
        return _compare_simple(village, catalog)
    v_parts = village.parts or (village,)
    c_parts = catalog.parts or (catalog,)
    results: list[Comparison] = []
    for c in c_parts:
        found = [r for v in v_parts if (r := _compare_simple(v, c)) is not Comparison.NOT_COMPARABLE]
        if not found:
            return Comparison.NOT_COMPARABLE
        results.append(max(found, key=_RANK.__getitem__))  # all village parts apply: the strictest binds
    if Comparison.LOOSER in results:
        return Comparison.LOOSER
    if all(r is Comparison.SAME for r in results) and len(v_parts) == len(c_parts):
        return Comparison.SAME
    return Comparison.STRICTER


# ------------------------------------------------------------------------------------------- due dates


def period_days(tl: TimeLimit) -> int | None:
    """The period in days of a periodic limit (the shortest periodic part of a combined one), else ``None``."""
    if tl.kind is Kind.PERIODIC:
        return tl.n
    if tl.kind is Kind.COMBINED:
        periods = [p.n for p in tl.parts if p.kind is Kind.PERIODIC and p.n is not None]
        return min(periods) if periods else None
    return None


def due_date(tl: TimeLimit, start: dt.date) -> dt.date | None:
    """The date by which the limit is met, counting from ``start`` (which itself never counts).

    * realtime: ``start`` itself; standing: ``None`` (no due date).
    * periodic: the next disclosure is due ``start`` + period days.
    * deadline: the N-th working day after ``start`` (official calendar, see :mod:`village_lists.workdays`)
      or ``start`` + N calendar days. The Civil Code rule that moves a deadline falling on a holiday to
      the next working day (民法典第二百零三条) is not applied, so the date is never later than the legal one.
    * min_publicity: the last day of the publicity period begun on ``start`` (``start`` + N days, or the
      N-th working day after ``start``); results may be announced after it.
    * combined: ``None`` — its parts' dates mean different things; call ``due_date`` on ``tl.parts``.
    """
    if tl.kind is Kind.REALTIME:
        return start
    if tl.kind in (Kind.STANDING, Kind.COMBINED) or tl.n is None:
        return None
    if tl.unit == "workday":
        return add_workdays(start, tl.n)
    return start + dt.timedelta(days=tl.n)
