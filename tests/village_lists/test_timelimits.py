"""The 公开时限 parser, comparison (README §6) and due dates."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import AppError
from village_lists.timelimits import (
    PERIODS,
    Comparison,
    Kind,
    TimeLimit,
    TimeLimitError,
    compare,
    due_date,
    parse_time_limit,
    period_days,
)

D = dt.date
SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "qinghe"
TODAY = D(2026, 11, 21)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


CATALOG = {row["编码"]: row for row in _rows(SAMPLE / "township_catalog.csv")}
VILLAGE_ROWS = [(path.stem, row) for path in sorted((SAMPLE / "village_lists").glob("QH*.csv")) for row in _rows(path)]
SAMPLE_PHRASES = sorted({row["公开时限"] for row in CATALOG.values()} | {row["公开时限"] for _, row in VILLAGE_ROWS})


def test_sample_has_phrases() -> None:
    assert len(CATALOG) == 223
    assert len(VILLAGE_ROWS) == 34 + 33 + 32 + 32 + 30
    assert len(SAMPLE_PHRASES) >= 20


@pytest.mark.parametrize("phrase", SAMPLE_PHRASES)
def test_every_sample_phrase_parses_to_its_canonical_form(phrase: str) -> None:
    tl = parse_time_limit(phrase)
    assert tl.kind is not Kind.COMBINED
    assert tl.text == phrase
    assert tl.canonical == phrase  # the sample uses only the standard §6 wording


@pytest.mark.parametrize(
    ("text", "kind", "n", "unit", "trigger"),
    [
        ("实时公开", Kind.REALTIME, None, None, None),
        ("常态公开", Kind.STANDING, None, None, None),
        ("每周公开一次", Kind.PERIODIC, 7, "day", None),
        ("每月公开一次", Kind.PERIODIC, 31, "day", None),
        ("每季度公开一次", Kind.PERIODIC, 92, "day", None),
        ("每半年公开一次", Kind.PERIODIC, 183, "day", None),
        ("每年公开一次", Kind.PERIODIC, 366, "day", None),
        ("信息形成或变更之日起20个工作日内", Kind.DEADLINE, 20, "workday", "信息形成或变更"),
        ("收到申请之日起20个工作日内", Kind.DEADLINE, 20, "workday", "收到申请"),
        ("作出决定之日起7日内", Kind.DEADLINE, 7, "day", "作出决定"),
        ("批准后20日内", Kind.DEADLINE, 20, "day", "批准"),
        ("公示期不少于7天", Kind.MIN_PUBLICITY, 7, "day", "公示期"),
        ("公告期不少于30天", Kind.MIN_PUBLICITY, 30, "day", "公告期"),
        ("公告期不少于10个工作日", Kind.MIN_PUBLICITY, 10, "workday", "公告期"),
        # wording variants seen in real lists
        ("每季度公开1次", Kind.PERIODIC, 92, "day", None),
        ("每季度一次", Kind.PERIODIC, 92, "day", None),
        ("每季公开一次", Kind.PERIODIC, 92, "day", None),
        ("每月一次", Kind.PERIODIC, 31, "day", None),
        ("每半年一次", Kind.PERIODIC, 183, "day", None),
        ("每年度公开一次", Kind.PERIODIC, 366, "day", None),
        ("每星期公开一次", Kind.PERIODIC, 7, "day", None),
        ("至少每季度公开一次", Kind.PERIODIC, 92, "day", None),
        ("每季度公开一次。", Kind.PERIODIC, 92, "day", None),
        (" 每 年 公开 一 次 ", Kind.PERIODIC, 366, "day", None),
        ("常态化公开", Kind.STANDING, None, None, None),
        ("长期公开", Kind.STANDING, None, None, None),
        ("实时更新", Kind.REALTIME, None, None, None),
        ("信息形成或变更之日起２０个工作日内", Kind.DEADLINE, 20, "workday", "信息形成或变更"),  # full-width digits
        ("信息形成或变更之日起　20　个工作日内", Kind.DEADLINE, 20, "workday", "信息形成或变更"),  # ideographic spaces
        ("自信息形成或变更之日起20个工作日内公开", Kind.DEADLINE, 20, "workday", "信息形成或变更"),
        ("信息形成或者变更之日起20个工作日以内", Kind.DEADLINE, 20, "workday", "信息形成或变更"),
        ("信息形成（变更）之日起十个工作日内", Kind.DEADLINE, 10, "workday", "信息形成或变更"),
        ("收到申请之日起十五个工作日内", Kind.DEADLINE, 15, "workday", "收到申请"),
        ("作出决定之日起三十日内", Kind.DEADLINE, 30, "day", "作出决定"),
        ("作出决定后7天内", Kind.DEADLINE, 7, "day", "作出决定"),
        ("批准后二十日内", Kind.DEADLINE, 20, "day", "批准"),
        ("批准之日起20个自然日内", Kind.DEADLINE, 20, "day", "批准"),
        ("公示期不得少于5天", Kind.MIN_PUBLICITY, 5, "day", "公示期"),
        ("公示期不少于七天", Kind.MIN_PUBLICITY, 7, "day", "公示期"),
        ("公示期不少于 7 天", Kind.MIN_PUBLICITY, 7, "day", "公示期"),
        ("公示时间不少于5个工作日", Kind.MIN_PUBLICITY, 5, "workday", "公示期"),
        ("公示期为7天", Kind.MIN_PUBLICITY, 7, "day", "公示期"),
        ("公告期不少于一百二十天", Kind.MIN_PUBLICITY, 120, "day", "公告期"),
        ("公告期不少于一百零五天", Kind.MIN_PUBLICITY, 105, "day", "公告期"),
        ("公示期不少于二十一天", Kind.MIN_PUBLICITY, 21, "day", "公示期"),
        ("公示期不少于两天", Kind.MIN_PUBLICITY, 2, "day", "公示期"),
    ],
)
def test_parse(text: str, kind: Kind, n: int | None, unit: str | None, trigger: str | None) -> None:
    tl = parse_time_limit(text)
    assert (tl.kind, tl.n, tl.unit, tl.trigger, tl.text, tl.parts) == (kind, n, unit, trigger, text, ())


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("公示期不少于7天；信息形成或变更之日起5个工作日内", ["公示期不少于7天", "信息形成或变更之日起5个工作日内"]),
        ("每季度公开一次，公示期不少于7天", ["每季度公开一次", "公示期不少于7天"]),
        ("实时公开并每年公开一次", ["实时公开", "每年公开一次"]),
        ("常态公开，并每半年公开一次", ["常态公开", "每半年公开一次"]),
        ("每月公开一次且公示期不少于7天", ["每月公开一次", "公示期不少于7天"]),
        ("公示期不少于5天; 作出决定之日起7日内", ["公示期不少于5天", "作出决定之日起7日内"]),
    ],
)
def test_parse_combined(text: str, parts: list[str]) -> None:
    tl = parse_time_limit(text)
    assert tl.kind is Kind.COMBINED
    assert tl.text == text
    assert [p.canonical for p in tl.parts] == parts
    assert tl.canonical == "；".join(parts)
    assert all(p.kind is not Kind.COMBINED for p in tl.parts)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "为空"),
        ("   ", "为空"),
        ("；", "无法识别"),
        ("及时公开", "无法识别"),
        ("不定期公开", "无法识别"),
        ("随时公开", "无法识别"),
        ("次年3月底前公开", "日历日期"),
        ("每年3月31日前公开", "日历日期"),
        ("每年公开两次", "每…公开一次"),
        ("每季度公开2次", "每…公开一次"),
        ("每两年公开一次", "无法识别"),
        ("20个工作日内", "无法识别"),  # no trigger
        ("信息形成之日起20个工作日内", "无法识别"),  # a different trigger: not guessed
        ("受理申请之日起20个工作日内", "无法识别"),  # 受理 is not 收到
        ("信息形成或变更之日起20个工作日", "无法识别"),  # no 内: is it a deadline or a delay?
        ("公示期不少于0天", "正整数"),
        ("公示期不少于三五天", "无法识别"),
        ("公示期不少于百天", "无法识别"),
        ("公示期不少于7周", "无法识别"),
        ("每季度公开一次；及时更新", "无法识别"),  # one bad part spoils the combination
    ],
)
def test_unparseable_phrases_raise(text: str, message: str) -> None:
    with pytest.raises(TimeLimitError, match=message) as excinfo:
        parse_time_limit(text)
    assert isinstance(excinfo.value, ValueError)
    assert isinstance(excinfo.value, AppError)
    if text.strip() and text != "；":
        assert text.strip() in str(excinfo.value) or text in str(excinfo.value)


S, L, SAME, NC = Comparison.STRICTER, Comparison.LOOSER, Comparison.SAME, Comparison.NOT_COMPARABLE


@pytest.mark.parametrize(
    ("village", "catalog", "expected"),
    [
        # README examples (the three 时限放宽 defects)
        ("每半年公开一次", "每季度公开一次", L),
        ("公示期不少于3天", "公示期不少于7天", L),
        ("信息形成或变更之日起30个工作日内", "信息形成或变更之日起10个工作日内", L),
        # periodic: shorter period is stricter
        ("每季度公开一次", "每半年公开一次", S),
        ("每季度公开一次", "每季度公开一次", SAME),
        ("每季度公开1次", "每季度公开一次", SAME),
        ("每月公开一次", "每年公开一次", S),
        ("每年公开一次", "每周公开一次", L),
        # deadline: same trigger and unit, smaller N is stricter
        ("信息形成或变更之日起5个工作日内", "信息形成或变更之日起20个工作日内", S),
        ("信息形成或变更之日起20个工作日内", "信息形成或变更之日起20个工作日内", SAME),
        ("收到申请之日起20个工作日内", "收到申请之日起15个工作日内", L),
        ("作出决定之日起5日内", "作出决定之日起7日内", S),
        ("批准后30日内", "批准后20日内", L),
        ("批准后二十日内", "批准后20日内", SAME),
        # deadline: different triggers are never compared
        ("收到申请之日起5个工作日内", "信息形成或变更之日起20个工作日内", NC),
        ("作出决定之日起7日内", "批准后7日内", NC),
        # deadline, mixed units: only relations that hold whatever the calendar (N workdays span ≥ N days)
        ("作出决定之日起10个工作日内", "作出决定之日起7日内", L),
        ("作出决定之日起7个工作日内", "作出决定之日起7日内", L),
        ("作出决定之日起5个工作日内", "作出决定之日起7日内", NC),
        ("信息形成或变更之日起7日内", "信息形成或变更之日起10个工作日内", S),
        ("信息形成或变更之日起10日内", "信息形成或变更之日起10个工作日内", S),
        ("信息形成或变更之日起14日内", "信息形成或变更之日起10个工作日内", NC),
        # min_publicity: larger N is stricter; 公示期 and 公告期 compare alike
        ("公示期不少于7天", "公示期不少于5天", S),
        ("公示期不少于7天", "公示期不少于7天", SAME),
        ("公告期不少于30天", "公告期不少于30天", SAME),
        ("公示期不少于30天", "公告期不少于30天", SAME),
        ("公告期不少于5个工作日", "公告期不少于10个工作日", L),
        # min_publicity, mixed units (N days hold at most N working days)
        ("公告期不少于10个工作日", "公告期不少于10天", S),
        ("公告期不少于10个工作日", "公告期不少于14天", NC),
        ("公告期不少于7天", "公告期不少于10个工作日", L),
        ("公告期不少于10天", "公告期不少于10个工作日", L),
        ("公告期不少于30天", "公告期不少于10个工作日", NC),
        # realtime / standing: only SAME with themselves
        ("实时公开", "实时公开", SAME),
        ("常态公开", "常态公开", SAME),
        ("常态化公开", "常态公开", SAME),
        ("实时公开", "常态公开", NC),
        ("实时公开", "每周公开一次", NC),
        ("常态公开", "每年公开一次", NC),
        # different kinds
        ("每季度公开一次", "信息形成或变更之日起20个工作日内", NC),
        ("公示期不少于7天", "信息形成或变更之日起10个工作日内", NC),
        ("批准后20日内", "公示期不少于20天", NC),
        # combined: each catalog part needs a comparable village part
        ("每季度公开一次；公示期不少于7天", "每季度公开一次", S),
        ("每半年公开一次；公示期不少于7天", "每季度公开一次", L),
        ("每季度公开一次；公示期不少于7天", "公示期不少于7天；每季度公开一次", SAME),
        ("每月公开一次；公示期不少于5天", "每季度公开一次；公示期不少于7天", L),
        ("每月公开一次；公示期不少于7天", "每季度公开一次；公示期不少于7天", S),
        ("每季度公开一次", "每季度公开一次；公示期不少于7天", NC),
        ("实时公开；常态公开", "常态公开", S),
        ("公示期不少于7天；作出决定之日起7日内", "作出决定之日起7日内；公示期不少于7天", SAME),
    ],
)
def test_compare(village: str, catalog: str, expected: Comparison) -> None:
    assert compare(parse_time_limit(village), parse_time_limit(catalog)) is expected


def test_comparison_labels() -> None:
    assert [c.label for c in Comparison] == ["更严格", "相同", "放宽", "需人工判定"]


def test_sample_lists_loosen_exactly_the_known_defects() -> None:
    """Every coded village row compares automatically with its catalog row; the looser ones are known defects."""
    known = {
        (row["村编码"], row["序号"]) for row in _rows(SAMPLE / "known_defects.csv") if row["缺陷类型"] == "时限放宽"
    }
    looser = set()
    for village, row in VILLAGE_ROWS:
        code = row["对应目录编码"]
        if code not in CATALOG:
            continue
        result = compare(parse_time_limit(row["公开时限"]), parse_time_limit(CATALOG[code]["公开时限"]))
        assert result is not Comparison.NOT_COMPARABLE, (village, row["序号"])
        if result is Comparison.LOOSER:
            looser.add((village, row["序号"]))
    assert looser == known == {("QH03", "11"), ("QH04", "20"), ("QH05", "27")}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("每周公开一次", 7),
        ("每月公开一次", 31),
        ("每季度公开一次", 92),
        ("每半年公开一次", 183),
        ("每年公开一次", 366),
        ("每季度公开一次；公示期不少于7天", 92),
        ("每年公开一次，每月公开一次", 31),
        ("实时公开", None),
        ("常态公开", None),
        ("信息形成或变更之日起20个工作日内", None),
        ("公示期不少于7天", None),
        ("公示期不少于7天；作出决定之日起7日内", None),
    ],
)
def test_period_days(text: str, expected: int | None) -> None:
    assert period_days(parse_time_limit(text)) == expected


@pytest.mark.parametrize(
    ("period", "cutoff"),
    [
        ("每月公开一次", D(2026, 10, 6)),
        ("每季度公开一次", D(2026, 8, 6)),
        ("每半年公开一次", D(2026, 5, 7)),
        ("每年公开一次", D(2025, 11, 5)),
    ],
)
def test_overdue_cutoffs_of_readme_section_6(period: str, cutoff: dt.date) -> None:
    days = period_days(parse_time_limit(period))
    assert days is not None
    assert TODAY - dt.timedelta(days=days + 15) == cutoff


@pytest.mark.parametrize(
    ("text", "start", "expected"),
    [
        ("实时公开", D(2026, 11, 20), D(2026, 11, 20)),
        ("常态公开", D(2026, 11, 20), None),
        ("每季度公开一次", D(2026, 8, 6), D(2026, 11, 6)),
        ("每月公开一次", D(2026, 1, 31), D(2026, 3, 3)),
        ("每年公开一次", D(2025, 11, 5), D(2026, 11, 6)),
        # working days skip 国庆 2025 (10-01..10-08 off; 09-28 and 10-11 worked)
        ("信息形成或变更之日起1个工作日内", D(2025, 9, 30), D(2025, 10, 9)),
        ("信息形成或变更之日起5个工作日内", D(2025, 9, 29), D(2025, 10, 13)),
        ("收到申请之日起20个工作日内", D(2025, 9, 26), D(2025, 10, 30)),
        # and 春节 2026 (02-15..02-23 off; 02-14 and 02-28 worked)
        ("信息形成或变更之日起2个工作日内", D(2026, 2, 13), D(2026, 2, 24)),
        ("公告期不少于10个工作日", D(2026, 2, 10), D(2026, 3, 2)),
        # calendar days ignore holidays
        ("作出决定之日起7日内", D(2025, 9, 30), D(2025, 10, 7)),
        ("批准后20日内", D(2026, 2, 10), D(2026, 3, 2)),
        ("公示期不少于7天", D(2026, 11, 1), D(2026, 11, 8)),
        ("公示期不少于7天；作出决定之日起7日内", D(2026, 11, 1), None),
    ],
)
def test_due_date(text: str, start: dt.date, expected: dt.date | None) -> None:
    assert due_date(parse_time_limit(text), start) == expected


def _chinese(n: int) -> str:
    """1..999 in Chinese numerals, as written in lists (十五, 一百零五, 三百二十)."""
    digits = "零一二三四五六七八九"
    hundreds, tens, ones = n // 100, n // 10 % 10, n % 10
    out = f"{digits[hundreds]}百" if hundreds else ""
    if tens:
        out += ("" if tens == 1 and not hundreds else digits[tens]) + "十"
    elif hundreds and ones:
        out += "零"
    return out + (digits[ones] if ones else "")


def _limits() -> st.SearchStrategy[TimeLimit]:
    n = st.integers(min_value=1, max_value=999)
    periodic = st.sampled_from(sorted(PERIODS.values())).map(lambda d: TimeLimit(Kind.PERIODIC, d, "day", None, ""))
    deadline = st.builds(
        lambda n, unit, trigger: TimeLimit(Kind.DEADLINE, n, unit, trigger, ""),
        n,
        st.sampled_from(["day", "workday"]),
        st.sampled_from(["信息形成或变更", "收到申请", "作出决定", "批准"]),
    )
    publicity = st.builds(
        lambda n, unit, label: TimeLimit(Kind.MIN_PUBLICITY, n, unit, label, ""),
        n,
        st.sampled_from(["day", "workday"]),
        st.sampled_from(["公示期", "公告期"]),
    )
    fixed = st.sampled_from([Kind.REALTIME, Kind.STANDING]).map(lambda k: TimeLimit(k, None, None, None, ""))
    return st.one_of(periodic, deadline, publicity, fixed)


@given(st.integers(min_value=1, max_value=999))
def test_chinese_and_arabic_numerals_agree(n: int) -> None:
    assert parse_time_limit(f"公示期不少于{_chinese(n)}天").n == n
    assert parse_time_limit(f"收到申请之日起{_chinese(n)}个工作日内").n == n
    assert parse_time_limit(f"批准后{n}日内").n == n


@given(_limits())
def test_canonical_text_parses_back(tl: TimeLimit) -> None:
    back = parse_time_limit(tl.canonical)
    assert (back.kind, back.n, back.unit, back.trigger) == (tl.kind, tl.n, tl.unit, tl.trigger)
    assert compare(back, tl) is Comparison.SAME


@given(_limits(), _limits())
def test_compare_is_antisymmetric(a: TimeLimit, b: TimeLimit) -> None:
    mirror = {S: L, L: S, SAME: SAME, NC: NC}
    assert compare(a, b) is mirror[compare(b, a)]
