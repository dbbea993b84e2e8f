"""Personal data in notices, in one place: what a loudspeaker must never play, and what blocks approval.

``scrub`` removes personal names (masked or not), ID card numbers and bank card numbers from one piece of text
to be read aloud; tables that list people are handled in ``push.speech.tables``, which summarises them.
``privacy_problems`` is the 发布审查 check run before a notice may be approved: unmasked personal names in a
publicity list, ID card numbers, bank card numbers and private mobile numbers. Office landlines and hotlines
(0883-6712048, 12345, 12119) are public and belong in notices.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Column headings that make a table a list of people.
PERSON_HEADINGS = (
    "姓名",
    "户主",
    "申请人",
    "救助对象",
    "对象姓名",
    "户名",
    "收款人",
    "联系人",
    "责任人",
    "名字",
    "家长",
)


# ID card numbers (18 characters, may be masked with *) and bank card numbers (16–19 digits, may be masked or
# grouped by spaces). They are removed whole, never read.
_ID_NUMBER = re.compile(r"(?<![\d*])\d{6}[\d*＊]{8}[\d*＊]{3}[\dXx*＊](?![\d*])")
_BANK_NUMBER = re.compile(r"(?<![\d*])\d{4}(?:[ *＊\d]){11,18}[\d*＊](?![\d*])")

# Common single-character surnames (the 百家姓 head) and compound ones: used only right after a role word.
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭肖田董袁潘蒋蔡余杜叶程苏魏吕丁沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵钱严覃武戴莫孔汤温康施"
    "牛樊葛邢齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿兰焦俞左柳甘祝宁舒阮柯纪梅童凌季裴霍涂苗谷"
    "盛曲翁冉骆蓝游辛靳柴蒙鲍华喻祁蒲房滕屈饶牟艾尤阳穆卓缪简项芦麦褚娄窦戚岑费卜冷"
    "晏席卫米柏宗瞿桂佟臧闵苟邬边卞姬仇栾隋刁沙荣巫寇桑郎甄丛仲虞敖巩佘池麻苑迟邝普杭"
)
_COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "令狐", "慕容", "长孙")
_ROLES = (
    "村务监督委员会主任",
    "村委会主任",
    "党总支书记",
    "党支部书记",
    "第一书记",
    "驻村工作队员",
    "联系人",
    "负责人",
    "责任人",
    "主任",
    "书记",
    "村长",
    "组长",
    "会计",
    "出纳",
    "文书",
    "队长",
    "护林员",
    "代收员",
    "同志",
)
# Characters that end a name written right after a role (主任王德明反映 → 王德明).
_NOT_IN_NAME = set("反电联同说的在等负和或及向主是为请已将到手打讲报及、，。；：！？（）()《》“”\"' \n")

# A masked name: 张*华, 鲁*明, 李**, 欧阳*华, 王某某.
_MASKED_NAME = re.compile(
    "(?:"
    + "|".join(_COMPOUND_SURNAMES)
    + r"|[\u4e00-\u9fff])[*＊×](?:[*＊×]|[\u4e00-\u9fff])?"
    + f"|[{_SURNAMES}]某某?"
)
_ROLE_NAME = re.compile(
    "(?P<role>"
    + "|".join(sorted(_ROLES, key=len, reverse=True))
    + r")(?P<colon>[：:]?\s*)(?P<name>(?:"
    + "|".join(_COMPOUND_SURNAMES)
    + f")[\u4e00-\u9fff]{{1,2}}|[{_SURNAMES}][\u4e00-\u9fff]{{1,2}})"
)
_CONTACT_THEN_PHONE = re.compile(r"联系人[：:]\s*[，,、]?\s*(?:联系)?电话")


def has_masked_name(text: str) -> bool:
    """True when ``text`` holds a masked personal name such as 张*华."""
    return bool(_MASKED_NAME.search(text))


def is_person_heading(heading: str) -> bool:
    return any(word in heading for word in PERSON_HEADINGS)


def scrub(text: str, *, known_names: Iterable[str] = ()) -> str:
    """Remove ID and bank numbers, masked names (→ 一位村民) and names written after a role (主任王德明 → 主任).

    ``known_names`` are removed wherever they occur (village cadres' names from the village lists, say).
    """
    text = _ID_NUMBER.sub(_drop_number, text)
    text = _BANK_NUMBER.sub(_drop_number, text)
    text = _NUMBER_WORDS_INLINE.sub("", text)
    text = _MASKED_NAME.sub("一位村民", text)
    text = _ROLE_NAME.sub(_drop_name, text)
    text = _CONTACT_THEN_PHONE.sub("联系电话", text)
    for name in sorted({n for n in known_names if len(n) >= 2}, key=len, reverse=True):
        text = text.replace(name, "")
    return text


_NUMBER_WORDS_INLINE = re.compile(r"(?:公民)?(?:身份证号码?|银行卡号|银行账号)[：:]?\s*(?=[，。；、）)]|$)")


def _drop_number(match: re.Match[str]) -> str:
    return ""


def _drop_name(match: re.Match[str]) -> str:
    name = match["name"]
    # A three-character match whose last character cannot be part of a name is a two-character name.
    if len(name) == 3 and name[-1] in _NOT_IN_NAME:
        return match["role"] + name[-1]
    if name[1] in _NOT_IN_NAME:
        return match.group()
    colon = match["colon"]
    return match["role"] + (colon if colon.strip() else "")


_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_MASK_MARKS = ("*", "＊", "×", "某")
_TOTAL_WORDS = ("合计", "总计", "小计")
_NAME_CELL = re.compile(r"^[\u4e00-\u9fff·]{2,5}$")


def privacy_problems(text: str) -> list[str]:
    """Why ``text`` may not be published (in Chinese), or an empty list when it may."""
    problems: list[str] = []
    for match in _ID_NUMBER.finditer(text):
        problems.append(f"含身份证号码“{_redact(match.group())}”，请删除")
    for match in _BANK_NUMBER.finditer(text):
        if not _ID_NUMBER.fullmatch(match.group()):
            problems.append(f"含银行卡号“{_redact(match.group())}”，请删除")
    for match in _MOBILE.finditer(text):
        problems.append(f"含私人手机号码“{_redact(match.group())}”，请改为办公电话或热线")
    problems.extend(_unmasked_names(text))
    return problems


def _redact(number: str) -> str:
    return number[:3] + "…" + number[-2:]


def _unmasked_names(text: str) -> list[str]:
    """Cells of a person column (姓名, 户主 …) in a Markdown table that show a whole name."""
    problems: list[str] = []
    table: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.strip().startswith("|"):
            table.append([cell.strip() for cell in line.strip().strip("|").split("|")])
            continue
        if table:
            problems.extend(_table_names(table))
            table = []
    return problems


def _table_names(rows: list[list[str]]) -> list[str]:
    header, body = rows[0], [r for r in rows[1:] if not all(set(c) <= set(":-") for c in r if c)]
    columns = [i for i, heading in enumerate(header) if is_person_heading(heading)]
    problems = []
    for row in body:
        for i in columns:
            cell = row[i] if i < len(row) else ""
            if any(word in cell for word in _TOTAL_WORDS) or any(mark in cell for mark in _MASK_MARKS):
                continue
            if _NAME_CELL.match(cell):
                problems.append(
                    f"公示名单“{header[i]}”列的“{cell[0]}{'*' * (len(cell) - 1)}”未隐去部分姓名（应写作 张*华）"
                )
    return problems
