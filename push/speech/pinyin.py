"""Chinese text → tone-numbered pinyin (``cun1 min2``) for espeak-ng's ``cmn-latn-pinyin`` voice.

pypinyin picks readings by phrase; the words below are ones this domain uses often and where a wrong reading
would be heard (耕地 di4, 银行 hang2, 重新 chong2, 补贴 tie1, 供养 gong1 …). They are applied here, not loaded
into pypinyin's global dictionary, so other users of pypinyin in the process are not affected.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pypinyin import Style, lazy_pinyin

# Word → one tone-numbered syllable per character.
POLYPHONES: dict[str, str] = {
    "耕地": "geng1 di4",
    "土地": "tu3 di4",
    "林地": "lin2 di4",
    "草地": "cao3 di4",
    "田地": "tian2 di4",
    "宅基地": "zhai2 ji1 di4",
    "地力": "di4 li4",
    "银行": "yin2 hang2",
    "行政": "xing2 zheng4",
    "执行": "zhi2 xing2",
    "重新": "chong2 xin1",
    "重要": "zhong4 yao4",
    "补贴": "bu3 tie1",
    "供养": "gong1 yang3",
    "分散供养": "fen1 san4 gong1 yang3",
    "集中供养": "ji2 zhong1 gong1 yang3",
    "还没有": "hai2 mei2 you3",
    "还有": "hai2 you3",
    "村长": "cun1 zhang3",
    "组长": "zu3 zhang3",
    "会计": "kuai4 ji4",
    "处罚": "chu3 fa2",
    "处理": "chu3 li3",
    "办事处": "ban4 shi4 chu4",
    "调查": "diao4 cha2",
    "种地": "zhong4 di4",
    "种植": "zhong4 zhi2",
    "发放": "fa1 fang4",
    "发包": "fa1 bao1",
    "承包": "cheng2 bao1",
    "应急": "ying4 ji2",
    "应当": "ying1 dang1",
    "便民": "bian4 min2",
    "参会": "can1 hui4",
    "参保": "can1 bao3",
    "结存": "jie2 cun2",
    "结余": "jie2 yu2",
    "数额": "shu4 e2",
    "给予": "ji3 yu3",
    "供给": "gong1 ji3",
    "落叶": "luo4 ye4",
    "着火": "zhao2 huo3",
    "看管": "kan1 guan3",
    "模样": "mu2 yang4",
    "差额": "cha1 e2",
    "出差": "chu1 chai1",
    "几个": "ji3 ge4",
    "一档": "yi1 dang4",
    "二档": "er4 dang4",
    "三档": "san1 dang4",
    "档次": "dang4 ci4",
    "幺": "yao1",
    "两委": "liang3 wei3",
    "星期六": "xing1 qi1 liu4",
    "为准": "wei2 zhun3",
    "转移": "zhuan3 yi2",
    "运转": "yun4 zhuan3",
    "传达": "chuan2 da2",
    "长期": "chang2 qi1",
    "为保护": "wei4 bao3 hu4",
    "期为": "qi1 wei2",
    "标准为": "biao1 zhun3 wei2",
    "认定为": "ren4 ding4 wei2",
    "日为": "ri4 wei2",
    "作为": "zuo4 wei2",
    "成为": "cheng2 wei2",
    "改为": "gai3 wei2",
    "以当年": "yi3 dang4 nian2",
    "对个人处": "dui4 ge4 ren2 chu3",
    "血压": "xue4 ya1",
    "一卡通": "yi4 ka3 tong1",
}

_PAUSE = {"，": ",", "、": ",", "：": ",", "；": ",", ",": ",", ":": ",", ";": ","}
_STOP = {"。": ".", "！": ".", "？": ".", ".": ".", "!": ".", "?": "."}
_OVERRIDE = re.compile("|".join(sorted(map(re.escape, POLYPHONES), key=len, reverse=True)))
_NUMERALS = "零幺一二两三四五六七八九十百千万亿"
_SYLLABLE = re.compile(r"^[a-z]+[1-5]$")


def to_pinyin(text: str) -> str:
    """``text`` as tone-numbered pinyin, ``,`` for a pause and ``.`` at a sentence end: 请注意！ → qing3 zhu4 yi4."""
    pairs: list[tuple[str, str]] = []
    position = 0
    for match in _OVERRIDE.finditer(text):
        pairs.extend(_convert(text[position : match.start()]))
        pairs.extend(zip(match.group(), POLYPHONES[match.group()].split(), strict=True))
        position = match.end()
    pairs.extend(_convert(text[position:]))
    words = _yi_sandhi(pairs)
    out = " ".join(words)
    out = re.sub(r"\s+([,.])", r"\1", out)
    out = re.sub(r"([,.])[,.]+", lambda m: "." if "." in m.group() else ",", out)
    return out.strip(" ,")


def _convert(text: str) -> list[tuple[str, str]]:
    """(character, syllable or pause mark) pairs; characters that are not read are dropped."""
    if not text:
        return []
    han = iter(c for c in text if "\u4e00" <= c <= "\u9fff")
    pairs: list[tuple[str, str]] = []
    for chunk in lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True, tone_sandhi=True):
        if _SYLLABLE.match(chunk):
            pairs.append((next(han, ""), chunk))
            continue
        for char in chunk:
            if char in _PAUSE:
                pairs.append((char, _PAUSE[char]))
            elif char in _STOP:
                pairs.append((char, _STOP[char]))
            elif char.isascii() and char.isalpha():
                pairs.append((char, char.lower()))
            elif "\u4e00" <= char <= "\u9fff":
                next(han, "")
    return pairs


def _yi_sandhi(pairs: list[tuple[str, str]]) -> list[str]:
    """一 as spoken: yi2 before a fourth tone, yi4 before other tones, yi1 at a phrase end, as an ordinal or a digit.

    In numbers 一 keeps yi1 after another numeral (十一, 二零二一) and becomes yi4/yi2 before 百/千/万.
    """
    words = [word for _, word in pairs]
    for index, (char, word) in enumerate(pairs):
        if char != "一" or word not in ("yi1", "yi2", "yi4"):
            continue
        before = pairs[index - 1][0] if index else ""
        after_char, after = pairs[index + 1] if index + 1 < len(pairs) else ("", "")
        if (
            (before and before in "第" + _NUMERALS)
            or not after
            or after in ",."
            or after_char in "一二三四五六七八九零十"
        ):
            words[index] = "yi1"
        elif after.endswith("4") or after.endswith("5"):
            words[index] = "yi2"
        else:
            words[index] = "yi4"
    return words


def sentences_to_pinyin(sentences: Iterable[str]) -> list[str]:
    """Each sentence as pinyin, ending with ``.``."""
    out = []
    for sentence in sentences:
        spoken = to_pinyin(sentence)
        if spoken:
            out.append(spoken if spoken.endswith(".") else spoken + ".")
    return out
