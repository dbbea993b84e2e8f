"""Numbers the way a village announcer reads them aloud.

``speak_numbers`` rewrites every Arabic number in a text into spoken Chinese: money as 元角分, years digit
by digit (二零二六年), dates (2026-11-26 → 二零二六年十一月二十六日), clock times, percentages, ranges,
areas and other decimals, phone numbers digit by digit with 幺 for 1 and a pause after the area code,
and ID-like codes digit by digit. Thousands separators are removed before anything is read.

The output contains no Arabic digits: any digit run not caught by a specific form is read as an integer.
ID card and bank card numbers are not the business of this module: ``push.speech.privacy`` removes them
before numbers are read.
"""

from __future__ import annotations

import re
import unicodedata

DIGITS = "零一二三四五六七八九"
_PHONE_DIGITS = "零幺二三四五六七八九"
_SMALL_UNITS = ("", "十", "百", "千")
_BIG_UNITS = ("", "万", "亿", "万亿")

# Measure words after which an exact 2 is read 两 (两个工日, 两人, 两间).
_LIANG_MEASURES = set("个人户间口名位项条件次批张台辆头只周倍亩斤公天年")

# Characters that mark a number as a quantity, not a phone number or a code.
_UNIT_CHARS = set("元角分亩人户个间口名位项条件次批张台辆头只周倍斤公天年月日号时岁米吨度万亿千百%％")

# Words before a number that make it a phone number (12119, 110).
_PHONE_CUES = ("电话", "拨打", "热线", "号码", "报警", "火警", "急救", "举报", "投诉", "监督")

NUM = r"\d{1,3}(?:,\d{3})+|\d+"

_TOKEN = re.compile(
    r"""
    (?P<landline>(?<!\d)0\d{2,3}-\d{7,8}(?!\d))
  | (?P<mobile>(?<!\d)1[3-9]\d{9}(?!\d))
  | (?P<isodate>(?<!\d)(?P<iy>\d{4})[-/.](?P<im>\d{1,2})[-/.](?P<id>\d{1,2})(?![\d.]))
  | (?P<time>(?<!\d)(?P<hh>[01]?\d|2[0-4])[:：](?P<mm>[0-5]\d)(?!\d))
  | (?P<code>(?<![\d.A-Za-z])(?:[A-Za-z]+-?\d+(?:-\d+)*|\d+(?:-\d+)+)(?![\d.]))
  | (?P<percent>(?P<pnum>"""
    + NUM
    + r""")(?:\.(?P<pdec>\d+))?[%％])
  | (?P<money>(?P<ynum>"""
    + NUM
    + r""")(?:\.(?P<ydec>\d+))?元)
  | (?P<year>(?<![\d.,])(?P<yyyy>\d{4})(?=年)|(?<=[〔\[［(（])(?P<yyyy2>(?:19|20)\d{2})(?=[〕\]］)）]))
  | (?P<number>(?P<inum>"""
    + NUM
    + r""")(?:\.(?P<dec>\d+))?)
    """,
    re.VERBOSE,
)

_RANGE_DASH = re.compile(
    r"(?<=[零一二三四五六七八九十百千万亿两点年月日号时分元亩天])\s*[~～—–-]\s*(?=[零一二三四五六七八九十百千万亿两])"
)
_LIST_SLASH = re.compile(r"(?<=[零一二三四五六七八九十百千万两元角分])/(?=[零一二三四五六七八九十两幺])")
_PER_UNIT = re.compile(r"/(?=[元亩人户月年天日次个斤吨周])")


def integer(value: int | str) -> str:
    """An integer read aloud: 10 → 十, 110 → 一百一十, 2064 → 两千零六十四, 126672 → 十二万六千六百七十二."""
    n = int(str(value).replace(",", ""))
    if n < 0:
        return "负" + integer(-n)
    if n == 0:
        return "零"
    groups: list[int] = []
    while n:
        groups.append(n % 10000)
        n //= 10000
    if len(groups) > len(_BIG_UNITS):
        return digits(str(value).replace(",", ""))
    out = ""
    need_zero = False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            need_zero = bool(out)
            continue
        if out and (need_zero or group < 1000):
            out += "零"
        out += _four_digits(group) + _BIG_UNITS[index]
        need_zero = False
    if out.startswith("一十"):
        out = out[1:]
    # An announcer says 两千 / 两万 / 两亿 at the head of a number, 二 elsewhere.
    if len(out) > 1 and out[0] == "二" and out[1] in "千万亿":
        out = "两" + out[1:]
    return out


def _four_digits(n: int) -> str:
    out = ""
    zero = False
    for position in range(3, -1, -1):
        d = (n // 10**position) % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += DIGITS[d] + _SMALL_UNITS[position]
    return out


def digits(text: str, *, yao: bool = False) -> str:
    """Digits one by one: 2026 → 二零二六; with ``yao`` 1 is 幺 (phone numbers, codes). Other characters are kept."""
    table = _PHONE_DIGITS if yao else DIGITS
    return "".join(table[int(c)] if c.isdigit() else c for c in text)


def decimal(whole: str, fraction: str | None) -> str:
    """A decimal: 3958.50 → 三千九百五十八点五; trailing zeros of the fraction are not read."""
    spoken = integer(whole)
    fraction = (fraction or "").rstrip("0")
    return f"{spoken}点{digits(fraction)}" if fraction else spoken


def money(whole: str, fraction: str | None) -> str:
    """An amount in yuan: 1234.50 → 一千二百三十四元五角, 0.05 → 五分, 126.35 → 一百二十六元三角五分.

    A whole amount comes back without its 元 (126672 → 十二万六千六百七十二), so the caller adds it.
    """
    yuan = int(whole.replace(",", ""))
    frac = (fraction or "").ljust(2, "0")[:2]
    jiao, fen = int(frac[0]), int(frac[1])
    parts = ""
    if yuan:
        parts = integer(yuan)
    if not jiao and not fen:
        return parts or "零"
    if yuan:
        parts += "元"
    if jiao:
        parts += DIGITS[jiao] + "角"
    elif fen and yuan:
        parts += "零"
    if fen:
        parts += DIGITS[fen] + "分"
    return parts


def phone(number: str) -> str:
    """A phone number digit by digit with 幺: 0883-6712048 → 零八八三，六七幺二零四八; 12119 → 幺二幺幺九."""
    if "-" in number:
        area, _, local = number.partition("-")
        return f"{digits(area, yao=True)}，{digits(local, yao=True)}"
    if len(number) == 11 and number.startswith("1"):
        return f"{digits(number[:3], yao=True)}，{digits(number[3:7], yao=True)}，{digits(number[7:], yao=True)}"
    return digits(number, yao=True)


def year(text: str) -> str:
    """A year digit by digit: 2026 → 二零二六."""
    return digits(text)


def date(y: str | None, m: str, d: str) -> str:
    """A date: (2026, 11, 26) → 二零二六年十一月二十六日."""
    head = f"{year(y)}年" if y else ""
    return f"{head}{integer(m)}月{integer(d)}日"


def clock_time(hour: int, minute: int, *, afternoon: bool = False) -> str:
    """A clock time: 14:30 → 十四点三十分; after 下午/晚上 it is 两点三十分; 9:00 → 九点."""
    if afternoon and hour > 12:
        hour -= 12
    spoken = "两" if hour == 2 else integer(hour)
    spoken += "点"
    if minute:
        spoken += ("零" if minute < 10 else "") + integer(minute) + "分"
    return spoken


def speak_numbers(text: str) -> str:
    """Rewrite every number in ``text`` the way an announcer reads it. The result has no Arabic digits."""
    text = _halfwidth_digits(text)
    text = _PER_UNIT.sub("每", text)
    text = _TOKEN.sub(_replace, text)
    text = _LIST_SLASH.sub("、", text)
    return _RANGE_DASH.sub("到", text)


def _halfwidth_digits(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", c) if "０" <= c <= "９" or c in "％：" else c for c in text)


def _replace(match: re.Match[str]) -> str:
    kind = match.lastgroup
    source = match.string
    start, end = match.span()
    before = source[max(0, start - 8) : start]
    after = source[end : end + 1]
    if kind == "landline" or kind == "mobile":
        return phone(match.group())
    if kind == "isodate":
        return date(match["iy"], match["im"], match["id"])
    if kind == "time":
        afternoon = any(word in before for word in ("下午", "晚上", "傍晚", "夜间", "晚"))
        return clock_time(int(match["hh"]), int(match["mm"]), afternoon=afternoon)
    if kind == "code":
        return _code_or_range(match.group(), after)
    if kind == "percent":
        return "百分之" + decimal(match["pnum"], match["pdec"])
    if kind == "money":
        spoken = money(match["ynum"], match["ydec"])
        return spoken if spoken.endswith(("角", "分")) else spoken + "元"
    if kind == "year":
        return year(match["yyyy"] or match["yyyy2"])
    whole, fraction = match["inum"], match["dec"]
    plain = whole.replace(",", "")
    if fraction is None and _is_phone_like(plain, before, after):
        return phone(plain)
    if fraction is None and plain == "2" and after in _LIANG_MEASURES and not _is_ordinal(before):
        return "两"
    return decimal(whole, fraction)


def _is_ordinal(before: str) -> bool:
    return before.endswith("第")


def _is_phone_like(number: str, before: str, after: str) -> bool:
    if after and after in _UNIT_CHARS:
        return False
    if len(number) >= 5 and number[0] == "0":
        return True
    if re.fullmatch(r"1[0-2]\d{3}", number):  # service numbers: 12119, 12345, 10086
        return True
    return len(number) >= 3 and any(cue in before for cue in _PHONE_CUES)


def _code_or_range(text: str, after: str) -> str:
    """``19-003`` or ``TZ-2026-028`` is a code (digit by digit); ``3-5`` before a unit is a range (三到五)."""
    parts = text.split("-")
    letters = re.match(r"[A-Za-z]*", parts[0])
    prefix = letters.group() if letters else ""
    numbers = [parts[0][len(prefix) :], *parts[1:]]
    is_range = (
        not prefix
        and len(numbers) == 2
        and all(n and not (len(n) > 1 and n.startswith("0")) for n in numbers)
        and (after in _UNIT_CHARS or int(numbers[0]) < int(numbers[1]))
    )
    if is_range:
        return f"{integer(numbers[0])}到{integer(numbers[1])}"
    spoken = "，".join(digits(n, yao=True) for n in numbers if n)
    return f"{prefix.upper()}{'，' if prefix and spoken else ''}{spoken}"
