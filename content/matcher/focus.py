"""Whether the answering document covers what a question is about, or only a word of it.

Two rules about the structure of a question, not lists of chit-chat topics, so they carry over to
townships whose catalogs the tables have never seen:

"微耕机的机油多久换一次" shares 微耕机 with the machinery subsidy, but it asks about 机油: in
"X的Y" the head noun Y is what is asked about and X only narrows it. When the question's X is a
word the answering document covers and its head Y is a word that no document of the index knows
at all (not one of its bigrams, nor of its synonyms'), the document answers a different question:
the matcher abstains (``uncovered_head``). And a question that asks no facet, whose last content
word (where a Chinese question puts what it asks: 刷, 洗头, 咬人) no document knows, while the
answering document covers only one or two other words of it, is a shared word (``unknown_last_word``).

Function words do not count as heads (的话, 的时候, 的那个…, and words of the general dictionary
common enough to be grammar rather than a topic: 出来, 情况), and a head already covered by the
document (its synonym included) is the document's own matter.

A question about another place than the townships the index holds (宁夏的低保标准, 上海那边养老金)
asks what none of its documents answers, whatever words it shares with them (``elsewhere``): a
place is one of the general dictionary's place names that no document knows. And a question about
one named household (王福贵家的坝地补了多少, 沈阿根家被举报了) asks about another family's affairs,
which no public document discloses (``named_household``); so does one that points at particular
other households (那两户, 这几户: ``those_households``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

from content.matcher import tunables as T
from content.matcher.datafile import cell_words, read_tsv
from content.matcher.facets import facets
from content.matcher.query import NUMERALS, STOPWORDS, Query, Unit, base_tokenizer

# "What to do" is how a villager asks about anything: it does not make a question a how-to-apply one.
_WHAT_TO_DO = ("怎么办", "咋办", "咋个办")
_WHETHER = "whether"
# Question forms that ask about anything ("what is going on"): never the matter asked about.
_ANY_QUESTION = frozenset({*_WHAT_TO_DO, "怎么回事", "咋回事", "咋个回事", "怎么整", "咋整"})
# "的" that is not a possessive or attributive: 的话 (if), 的时候 (when)
_NOT_ATTRIBUTIVE = ("的话", "的时候", "的时间", "的事")


@lru_cache(maxsize=1)
def _facet_cues() -> frozenset[str]:
    """The facet table's question cues (多少钱, 什么时候…): what is asked, never the matter."""
    return frozenset(c for f in facets().facets for c in f.cues)


def _spans(text: str, units: Sequence[Unit]) -> list[tuple[int, Unit]]:
    """Each unit with its start in ``text`` (units are cut from it in order)."""
    out: list[tuple[int, Unit]] = []
    pos = 0
    for u in units:
        at = text.find(u.word, pos)
        if at < 0:
            out.append((pos, u))
            continue
        out.append((at, u))
        pos = at + len(u.word)
    return out


# One-character modifiers before a head noun (旧木头)
_MODIFIERS = frozenset("旧新老小大破烂空废")


def uncovered_head(
    query: Query,
    covers: Callable[[Unit], bool],
    common: Callable[[str], bool],
    touches: Callable[[Unit], bool] | None = None,
) -> str | None:
    """The head noun of an "X的Y" in the question that the answering document misses, or None.

    ``covers(unit)``: the answering document (or a linked interpretation) has one of the unit's
    alternatives; ``common(word)``: a frequent word of the general dictionary (grammar, not a topic).
    X must be a word of two or more characters the document covers (or ``touches``: has half of, 低保
    of 低保户), in the same clause as 的; Y is the first content word after 的 (at most ``FOCUS_GAP``
    characters on; past a one-character modifier such as 旧 or 新 right before a word), unknown to every document,
    and no other clause, nor the rest of this one, may name a word the document covers (facet cues
    such as 多少钱 aside).
    """
    text = query.text
    cues = _facet_cues()
    spans = _spans(text, query.units)
    start = 0
    while (d := text.find("的", start)) >= 0:
        start = d + 1
        if text.startswith(_NOT_ATTRIBUTIVE, d):
            continue
        clause = text.rfind(" ", 0, d) + 1
        if not any(clause <= at < d and len(u.word) >= 2 and (touches or covers)(u) for at, u in spans):
            continue
        after = [(at, u) for at, u in spans if at > d]
        if not after:
            continue
        at, unit = after[0]
        if unit.word in _MODIFIERS and len(after) > 1:
            nxt_at, nxt = after[1]
            if nxt_at == at + 1 and len(nxt.word) >= 2:
                at, unit = nxt_at, nxt  # 旧木头: the head is 木头
        gap = text[d + 1 : at]
        if len(gap) > T.FOCUS_GAP or " " in gap or (gap and gap not in STOPWORDS):
            continue
        if unit.known or covers(unit) or common(unit.word) or unit.word[0] in NUMERALS or unit.word in cues:
            continue  # (一框, 百分之: a quantity, not a thing; 手续, 电话: what is asked of X)
        if any(b > at and len(u.word) >= 2 and u.word not in cues and covers(u) for b, u in spans):
            continue  # the question goes on to the document's matter (村集体的鱼塘…承包费公开没有)
        if any(b < clause and len(u.word) >= 2 and u.word not in cues and covers(u) for b, u in spans):
            continue  # an earlier clause names the document's matter (…补偿款，…渠道工程的欠款)
        return unit.word
    return None


def unknown_last_word(
    query: Query,
    covers: Callable[[Unit], bool],
    common: Callable[[str], bool],
) -> str | None:
    """The question's last content word, when no document knows it and the question is otherwise
    one shared word with the answering document (医保卡掉进水里还能不能刷 → 刷), or None.

    Only for a question that asks none of the recognised facets (an amount, a date, how to apply…,
    though "怎么办" alone is no facet) and has no number: those ask about the document's matter.
    The content words are the units less facet cues and common words; the last one must be unknown
    to every document, and one or two others (``FOCUS_SHARED``) covered by the document, in its clause.
    """
    if any(ch.isdigit() for ch in query.text):
        return None
    asked = [f for f in query.facets if f.name != _WHETHER]  # "还能…吗" asks of anything
    if any(f.name != "apply" for f in asked):
        return None
    if asked and not any(w in query.text for w in _WHAT_TO_DO):
        return None
    cues = _facet_cues()
    words = [
        u
        for u in query.units
        if u.word not in cues
        and u.word not in _ANY_QUESTION
        and not common(u.word)
        and (len(u.word) >= 2 or not u.known)
    ]
    if len(words) < 2:
        return None
    last = words[-1]
    if last.known or covers(last) or last.word[0] in NUMERALS or last.word[0] == "第":
        return None  # (第一笔, 两回: a quantity, not a thing)
    found = query.text.rfind(last.word)
    if found > 0 and query.text[found - 1] in NUMERALS:
        return None  # 一大片
    covered = [u for u in words[:-1] if covers(u)]
    if not 1 <= len(covered) <= T.FOCUS_SHARED:
        return None
    at = dict((id(u), a) for a, u in _spans(query.text, query.units))
    if " " in query.text[at[id(covered[0])] : at[id(last)]]:
        return None  # the shared word is in another clause: the last one asks on about it
    return last.word


def uncovered_topic(query: Query, touches: Callable[[Unit], bool]) -> bool:
    """The answering document has none of the question's topic words (盲人按摩一次好多钱: it shares
    only 一次 and 多少钱). Topic words are the content words of two or more characters that are not
    facet cues (多少钱, 几点) nor question forms (怎么办); a question without any is not judged."""
    cues = _facet_cues()
    topic = [u for u in query.units if _han_count(u.word) >= 2 and u.word not in cues and u.word not in _ANY_QUESTION]
    return bool(topic) and not any(touches(u) for u in topic)


# "X那边": a place named with a deictic ("over there") is where the question is about.
_OVER_THERE = ("那边", "那头", "那搭", "那块", "那儿")
_AWAY = ("住院", "看病", "就医", "就诊", "治病", "生孩子", "生娃", "打工", "务工", "上班", "上学", "读书")
"""What a villager goes to another place for, while their cover stays at home (异地就医, 务工, 随迁就学)."""
# Endings of words that name a kind of place, not one place (外省, 县里, 对面, 城头): "外省那边住院" is ours.
_GENERIC_PLACE = tuple("省县市州乡镇村里边面头外")
_SIDES = frozenset("前后东西南北上下左右")
_LANDFORMS = frozenset("山坡沟河湾坝岭塬梁峁")
# 开春以后: a word before 以后 is a time, not a place
_THEN = ("以后", "以前", "之后", "之前", "过后", "的时候")


@lru_cache(maxsize=1)
def place_names() -> frozenset[str]:
    """The place names of jieba's general dictionary (part of speech ``ns``: 上海, 榆林, 大理州)."""
    with base_tokenizer().get_dict_file() as fh:
        rows = (line.decode("utf-8").split() for line in fh)
        return frozenset(parts[0] for parts in rows if len(parts) == 3 and parts[2] == "ns")


def _a_place(word: str) -> bool:
    """A place name of the general dictionary, or one with its 市, 县, 州… left out (大理 of 大理州)."""
    places = place_names()
    return word in places or any(word + end in places for end in "市县州省区")


def elsewhere(text: str, cut: Callable[[str], list[str]], known: Callable[[str], bool]) -> str | None:
    """The place the question asks about, when it is another one, or None: a place name no document
    of the index knows (our own villages, towns and county are known; a kind of place such as 外省 or
    县里 is none) that opens the question (宁夏的低保标准多少) or comes right before "那边"
    (上海那边养老金一个月发多少, 大理那边征地一亩赔好多). A villager who is there to be treated, to
    work or to study (昆明住院能报销吗, 大理那边打工医保咋个交) asks about their own cover, which goes
    with them (异地就医, 异地务工): that question is ours.

    ``cut(text)``: the text cut into words; ``known(word)``: the index has it.
    """
    first = cut(text.split(" ", 1)[0])
    if (
        len(first) > 1
        and _other_place(first[0], known)
        and not _away(text[len(first[0]) :])
        and not text[len(first[0]) :].startswith(_THEN)
    ):
        return first[0]
    for deictic in _OVER_THERE:
        at = text.find(deictic)
        if at < 2 or _away(text[at + len(deictic) :]):
            continue
        words = cut(text[:at].rsplit(" ", 1)[-1])
        if words and _other_place(words[-1], known):
            return words[-1]
    return None


def _away(rest: str) -> bool:
    """``rest`` (what follows the place) says the villager is there for care, work or school."""
    return rest.lstrip("的那边里去在 ").startswith(_AWAY)


def _other_place(word: str, known: Callable[[str], bool]) -> bool:
    if len(word) < 2 or not _is_han(word) or word.endswith(_GENERIC_PLACE):
        return False
    if len(word) == 2 and word[0] in _SIDES and word[1] in _LANDFORMS:
        return False  # 后山, 北坡: the hill behind the house, not 后山 of some county
    return _a_place(word) and not known(word)


def _han_count(word: str) -> int:
    """Chinese characters in a word (10年禁渔 has three)."""
    return sum("\u4e00" <= ch <= "\u9fff" for ch in word)


def _is_han(word: str) -> bool:
    return _han_count(word) == len(word)


NAMES_PATH = Path(__file__).resolve().parent.parent / "data" / "names.tsv"


@lru_cache(maxsize=1)
def surnames() -> frozenset[str]:
    """The surnames of ``content/data/names.tsv``."""
    _, rows = read_tsv(NAMES_PATH.read_text(encoding="utf-8"))
    return frozenset(c for _, parts in rows if parts[0] == "surname" for c in cell_words(parts[1]))


# "那两户", "这几户": particular households the villager points at (not 户口, 户籍)
_DISPUTE = "有意见|有异议|有争议|不同意|不满意|没签|不签|未签"
_THOSE_HOUSEHOLDS = re.compile(
    "[这那][一两三四五几0-9]?户(?![口籍])|[这那][一两三四五几0-9]家"  # 那两户, 那3户, 那几家
    f"|(哪几|哪些|几|两|三)(户|家)(人家?)?[^，。？ ]{{0,12}}({_DISPUTE})"  # 哪几户对桑园面积有意见
    f"|({_DISPUTE})的(人家|户)"  # 对存塘对虾有异议的人家
    f"|({_DISPUTE})[^，。？ ]{{0,4}}哪[一两三四五几0-9]?(户|家)"  # 对参龄有意见的是哪两户
)


def those_households(text: str) -> str | None:
    """The words pointing at particular other households (芒洪村那两户…, 有意见的那几户, 哪几户没签),
    or None: how one household's dispute or negotiation is settled is their own affair, never published."""
    m = _THOSE_HOUSEHOLDS.search(text)
    return m.group(0) if m else None


def named_household(text: str, cut: Callable[[str], list[str]], known: Callable[[str], bool]) -> str | None:
    """The personal name of a household the question asks about (王福贵 in 后沟王福贵家坝地补了多少),
    or None: a surname and one or two more characters right before 家 (a word of its own), not
    running into a word before them (种田人家 is 种田/人家), that is no word of ``cut``'s dictionary
    itself (农户家) and that the documents do not know (``known``: a village's responsible person).

    ``cut(text)``: the text cut into words; ``known(word)``: a word of the dictionary or the index.
    """
    names = surnames()
    words = cut(text)
    starts = []
    pos = 0
    for w in words:
        starts.append(pos)
        pos += len(w)
    bounds = set(starts)
    for n, w in enumerate(words):
        if w != "家" or n == 0:
            continue
        for size in (3, 2):
            begin = starts[n] - size
            name = text[begin : starts[n]]
            if begin >= 0 and begin in bounds and name[0] in names and _is_han(name) and not known(name):
                return name
    return None
