"""Numbers as an announcer reads them: table-driven, one row per form."""

from __future__ import annotations

import re

import cn2an
import pytest
from hypothesis import given
from hypothesis import strategies as st

from push.speech.numbers import clock_time, digits, integer, money, phone, speak_numbers

CASES = [
    # money: 元角分, thousands separators stripped
    ("1,234.50元", "一千二百三十四元五角"),
    ("126,672.00元", "十二万六千六百七十二元"),
    ("86.50元", "八十六元五角"),
    ("0.05元", "五分"),
    ("1.05元", "一元零五分"),
    ("126.35元", "一百二十六元三角五分"),
    ("2,022,110.50元", "二百零二万二千一百一十元五角"),
    ("45,000.00元", "四万五千元"),
    ("485元", "四百八十五元"),
    ("12万元", "十二万元"),
    ("1.5万元", "一点五万元"),
    ("200元以上3,000元以下", "二百元以上三千元以下"),
    ("485/420/350元", "四百八十五、四百二十、三百五十元"),
    ("元/月", "元每月"),
    # dates and years
    ("2026年11月26日", "二零二六年十一月二十六日"),
    ("2026-11-26", "二零二六年十一月二十六日"),
    ("2026/11/26", "二零二六年十一月二十六日"),
    ("2026-07-22", "二零二六年七月二十二日"),
    ("2027年度", "二零二七年度"),
    ("2000年", "二零零零年"),
    ("3年", "三年"),
    ("云农发〔2026〕12号", "云农发〔二零二六〕十二号"),
    ("12月31日", "十二月三十一日"),
    ("12月底前", "十二月底前"),
    # ranges
    ("11月26日至12月2日", "十一月二十六日至十二月二日"),
    ("11月21日至27日", "十一月二十一日至二十七日"),
    ("11月21日-27日", "十一月二十一日到二十七日"),
    ("2026年12月1日至2027年6月15日", "二零二六年十二月一日至二零二七年六月十五日"),
    ("3-5天", "三到五天"),
    ("200~300元", "二百到三百元"),
    ("7月至9月", "七月至九月"),
    # times
    ("下午14:30", "下午两点三十分"),
    ("14:30", "十四点三十分"),
    ("09:00", "九点"),
    ("8:05", "八点零五分"),
    ("晚上19:00", "晚上七点"),
    ("15时", "十五时"),
    ("14：30", "十四点三十分"),
    # percentages
    ("12.5%", "百分之十二点五"),
    ("100%", "百分之一百"),
    ("5%-10%", "百分之五到百分之十"),
    ("３０％", "百分之三十"),
    # areas and decimals
    ("3,958.50亩", "三千九百五十八点五亩"),
    ("23,377.00亩", "两万三千三百七十七亩"),
    ("86亩", "八十六亩"),
    ("1.2公里", "一点二公里"),
    ("0.75", "零点七五"),
    # phone numbers: digit by digit, 幺 for 1
    ("0883-6712048", "零八八三，六七幺二零四八"),
    ("0883-6126201", "零八八三，六幺二六二零幺"),
    ("拨打12119", "拨打幺二幺幺九"),
    ("（12348）", "（幺二三四八）"),
    ("拨打110", "拨打幺幺零"),
    ("13812345678", "幺三八，幺二三四，五六七八"),
    ("电话6712048", "电话六七幺二零四八"),
    # ID-like codes: digit by digit
    ("19-003", "幺九，零零三"),
    ("TZ-2026-028", "TZ，二零二六，零二八"),
    ("QH03", "QH，零三"),
    # integers and 两
    ("2064户", "两千零六十四户"),
    ("20000", "两万"),
    ("10", "十"),
    ("110人", "一百一十人"),
    ("100010", "十万零一十"),
    ("1001", "一千零一"),
    ("2个工日", "两个工日"),
    ("第2个", "第二个"),
    ("2人", "两人"),
    ("12人", "十二人"),
    ("共12000人", "共一万二千人"),
    ("6倍", "六倍"),
    ("５个", "五个"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_speak_numbers(text: str, expected: str) -> None:
    assert speak_numbers(text) == expected


@pytest.mark.parametrize(("text", "_"), CASES)
def test_no_arabic_digit_survives(text: str, _: str) -> None:
    assert not re.search(r"[0-9０-９]", speak_numbers(text))


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 60


@given(st.integers(min_value=0, max_value=10**12 - 1))
def test_integer_agrees_with_cn2an(n: int) -> None:
    """Our reader differs from cn2an only in saying 两 at the head of 两千/两万/两亿."""
    theirs = cn2an.an2cn(n)
    expected = "两" + theirs[1:] if theirs[:2] in ("二千", "二万", "二亿") else theirs
    assert integer(n) == expected


@given(st.integers(min_value=0, max_value=99_999_999), st.integers(min_value=0, max_value=99))
def test_money_reads_back_to_its_value(yuan: int, cents: int) -> None:
    spoken = money(str(yuan), f"{cents:02d}")
    total = 0
    match = re.fullmatch(
        r"(?:(?P<y>[^元角分]+)(?:元|$))?(?:零)?(?:(?P<j>[一二三四五六七八九])角)?(?:(?P<f>[一二三四五六七八九])分)?",
        spoken,
    )
    assert match, spoken
    if match["y"]:
        total += int(cn2an.cn2an(match["y"].replace("两", "二"), "smart")) * 100
    digits_ = "零一二三四五六七八九"
    total += digits_.index(match["j"]) * 10 if match["j"] else 0
    total += digits_.index(match["f"]) if match["f"] else 0
    assert total == yuan * 100 + cents


def test_digits_and_phone_helpers() -> None:
    assert digits("2026") == "二零二六"
    assert digits("110", yao=True) == "幺幺零"
    assert phone("0883-6712119") == "零八八三，六七幺二幺幺九"
    assert clock_time(2, 0) == "两点"
    assert clock_time(14, 30, afternoon=True) == "两点三十分"
