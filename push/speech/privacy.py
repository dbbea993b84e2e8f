"""What a loudspeaker must never play: personal names (masked or not), ID card numbers and bank card numbers.

``scrub`` works on one piece of text; tables that list people are handled in ``push.speech.tables``, which
summarises them instead of reading them.
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
