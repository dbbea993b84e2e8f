"""Passage selection: within the chosen document, the passage that holds the fact asked.

An interpretation's candidates are its Q&A pairs and its summary's sentences. A passage is scored on:
- topic: how much of the question's *focus* it covers, the content words the document's name
  (title, keywords) does not already cover (高龄补贴好多钱一个月 → 钱, 一个月), IDF-weighted;
- facet: whether it speaks to what is asked (``facets``): the value itself (an amount, a date, a
  phone number) in its text, the facet's words in its question or text;
- its Q&A question asking what the villager asks (weighted Dice of bigrams), and the question's
  numbers and letters (90岁, D级) found whole in it.
A passage is read as written and with dialect words made standard, as the question is. The best
passage is shown, and one or two more while those shown are not long and the next also matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from content.matcher import tunables as T
from content.matcher.documents import KIND_INTERPRETATION, Doc
from content.matcher.facets import Facet, values_asked
from content.matcher.normalize import bigrams, normalize, normalize_doc
from content.matcher.query import Query

_HAN = re.compile(r"[\u4e00-\u9fff]")
_SENTENCE = re.compile(r"[^。！？!?]+[。！？!?]?")


@dataclass(frozen=True)
class Passage:
    kind: str  # "qa" or "summary"
    index: int  # the Q&A pair's or the sentence's position
    head: str  # the Q&A question ("" for a summary sentence)
    text: str  # the answer, or the sentence
    norm: str  # head and text, normalised, then again with dialect words made standard (looked up in)
    head_grams: frozenset[str] = frozenset()  # bigrams of the head, both ways
    head_norm: str = ""  # the head, normalised both ways (looked up in)


@dataclass(frozen=True)
class Choice:
    passage: Passage
    score: float
    topic: float
    facet: float


@lru_cache(maxsize=4096)
def doc_passages(doc: Doc) -> tuple[Passage, ...]:
    """The passages a reply may quote: every Q&A pair, then every summary sentence (showable bodies only)."""
    if doc.kind != KIND_INTERPRETATION or not doc.body_showable:
        return ()
    out = [
        Passage("qa", n, q, a, _both(q + " " + a), frozenset(bigrams(_both(q))), _both(q))
        for n, (q, a) in enumerate(zip(doc.questions, doc.answers, strict=False))
        if a.strip()
    ]
    sentences = [s.strip() for s in _SENTENCE.findall(doc.summary) if s.strip()]
    out += [Passage("summary", n, "", s, _both(s)) for n, s in enumerate(sentences)]
    return tuple(out)


@lru_cache(maxsize=4096)
def passage_grams(doc: Doc) -> tuple[frozenset[str], ...]:
    """The bigrams of each passage of an interpretation (a Q&A pair, a summary sentence)."""
    return tuple(frozenset(bigrams(p.norm)) for p in doc_passages(doc))


@lru_cache(maxsize=4096)
def value_grams(doc: Doc, values: tuple[re.Pattern[str], ...]) -> frozenset[str]:
    """The bigrams of an interpretation's passages that hold a value asked (a phone number): the
    office such a passage names (镇林业站 0743-8621073) is what the question is about."""
    grams: set[str] = set()
    for p in doc_passages(doc):
        if any(v.search(p.text) for v in values):
            grams |= bigrams(p.norm)
    return frozenset(grams)


def _both(text: str) -> str:
    """A passage's text normalised as written, and as a question is (dialect words made standard:
    a township that writes 咋整 in its Q&A answers a question rewritten to 怎么办)."""
    plain = normalize_doc(text)
    standard = normalize(text)
    return plain if standard == plain else f"{plain} {standard}"


_MARK = re.compile(r"[0-9]{2,}|[a-z]+")


def _marks(text: str) -> list[re.Pattern[str]]:
    """The numbers of two or more digits and the letters of a question (90岁, 12月31号, D级), as
    patterns that find them whole in a passage: the passage that names them holds the fact asked."""
    found = dict.fromkeys(_MARK.findall(text))
    return [re.compile(rf"(?<![0-9a-z]){re.escape(m)}(?![0-9a-z])") for m in found]


def head_similarity(query: Query, passage: Passage) -> float:
    """Weighted Dice of the question's bigrams and the passage's question's (0 for a summary
    sentence): the passage that asks what the villager asks."""
    head = passage.head_grams
    if not head:
        return 0.0
    weights = query.gram_idf
    q_mass = sum(weights.values())
    if q_mass <= 0:
        return 0.0
    mean = q_mass / len(weights)
    shared = sum(weights[g] for g in head if g in weights)
    h_mass = sum(weights.get(g, mean) for g in head)
    return 2.0 * shared / (q_mass + h_mass)


@lru_cache(maxsize=4096)
def name_grams(doc: Doc) -> frozenset[str]:
    """Bigrams of a document's name: its title, keywords and group."""
    return frozenset(bigrams(normalize_doc(" ".join((doc.title, doc.group, *doc.keywords)))))


Focus = list[tuple[tuple[tuple[str, ...], ...], float]]


def _asking(query: Query) -> list[str]:
    """The facet cues the question uses (哪天, 多少钱): what is asked, not about what."""
    return [c for f in query.facets for c in f.cues if c in query.text]


def _content_units(query: Query) -> Focus:
    """All the question's content words with their alternatives (the focus without leaving out the
    document's name): what tells passages apart when the focus is empty (汛期 in an 汛期 document)."""
    asking = _asking(query)
    return [
        (tuple(tuple(sorted(a)) for a in unit.alts if a), unit.weight)
        for unit in query.units
        if unit.alts and _HAN.search(unit.word) and not any(unit.word in c for c in asking)
    ]


def focus(query: Query, doc: Doc) -> Focus:
    """The question's focus: its content words whose own bigrams (or one character) the document's
    name does not all have, each as the bigrams of its alternatives left after the name's, with its
    IDF weight (低保 in a 低保 document is no focus; 城市 in 城市低保标准 is)."""
    name = name_grams(doc)
    asking = _asking(query)
    out: Focus = []
    for unit in query.units:
        if not unit.alts or unit.alts[0] <= name or any(unit.word in c for c in asking):
            continue
        if not _HAN.search(unit.word):
            continue  # a number or a letter is in every other passage
        alts = tuple(rest for alt in unit.alts if (rest := tuple(sorted(alt - name))))
        if alts:
            out.append((alts, unit.weight))
    return out


def coverage(units: Focus, text: str) -> float:
    """IDF-weighted share of the focus a normalised text covers (a word: its best alternative's share)."""
    total = sum(w for _, w in units)
    if not total:
        return 0.0
    got = sum(w * max(sum(g in text for g in alt) / len(alt) for alt in alts) for alts, w in units)
    return got / total


def facet_match(facet: Facet, passage: Passage, about: float = 1.0) -> float:
    """0..1: how well a passage speaks to one facet.

    Its question asks the same (the facet's question cues in it, the more the better), or speaks to it
    (a passage cue in it); the value itself (an amount, a date, a phone number) is in its text; the
    facet's passage cues are in its text.
    """
    head = passage.head
    asked = sum(1 for c in facet.cues if c in head)
    if asked:
        head_score = min(1.0, T.HEAD_ASKS + T.HEAD_ASKS_MORE * (asked - 1))
    elif any(c in head for c in facet.passage_cues):
        head_score = T.HEAD_SPEAKS
    else:
        head_score = 0.0
    value = 1.0 if facet.value is not None and facet.value.search(passage.text) else 0.0
    cue = 1.0 if any(c in passage.text for c in facet.passage_cues) else 0.0
    return T.FACET_HEAD * head_score * about + T.FACET_VALUE * value + T.FACET_TEXT * cue


def facets_match(facets: tuple[Facet, ...], passage: Passage, about: float = 1.0) -> float:
    """The best facet's match, and a quarter of the others' mean (a passage need not answer every facet).

    ``about``: the share of its question's credit a Q&A pair keeps (asking the same of another
    matter: "什么时候发" for "新标准哪天开始执行")."""
    got = sorted((facet_match(f, passage, about) for f in facets), reverse=True)
    if len(got) <= 1:
        return got[0] if got else 0.0
    rest = sum(got[1:]) / (len(got) - 1)
    return (1.0 - T.OTHER_FACETS) * got[0] + T.OTHER_FACETS * rest


def rank_passages(query: Query, doc: Doc, facets: tuple[Facet, ...], qa_best: int = -1) -> list[Choice]:
    """The document's passages, best first (ties keep the document's order, Q&A pairs before the summary)."""
    passages = doc_passages(doc)
    if not passages:
        return []
    grams = focus(query, doc)
    # a question asking a value (an amount, a date, a phone number) is answered by a passage holding one
    valued = values_asked(facets, T.PASSAGE_VALUE_FACETS)
    holding = [any(v.search(p.text) for v in valued) for p in passages] if valued else []
    marks = _marks(query.text)
    # how much of the focus each Q&A question names, when one names some (else none is told apart)
    named_heads = [coverage(grams, p.head_norm) if p.kind == "qa" else 0.0 for p in passages] if grams else []
    matter = _content_units(query) if not grams else []
    choices: list[Choice] = []
    for n, p in enumerate(passages):
        topic = coverage(grams, p.norm)
        about = 1.0
        if named_heads and p.kind == "qa":
            about = T.HEAD_ELSEWHERE + (1.0 - T.HEAD_ELSEWHERE) * named_heads[n]
        facet = facets_match(facets, p, about)
        score = T.PASSAGE_TOPIC * topic + T.PASSAGE_FACET * facet if facets else topic
        score += T.PASSAGE_HEAD * head_similarity(query, p)
        if marks:
            score += T.PASSAGE_MARKS * sum(1 for m in marks if m.search(p.norm)) / len(marks)
        if matter:
            score += T.PASSAGE_MATTER * coverage(matter, p.norm)
        if p.kind == "qa" and p.index == qa_best:
            score += T.PASSAGE_QA_BEST
        if any(holding) and not holding[n]:
            score *= T.PASSAGE_NO_VALUE
        choices.append(Choice(p, score, topic, facet))
    return sorted(choices, key=lambda c: -c.score)


def choose(query: Query, doc: Doc, facets: tuple[Facet, ...], qa_best: int = -1) -> list[Passage]:
    """The passage to show, and up to ``MORE_PASSAGES`` more while those shown are short and the next also matches."""
    ranked = rank_passages(query, doc, facets, qa_best)
    if not ranked:
        return []
    first = ranked[0]
    out = [first.passage]
    shown = len(first.passage.text)
    for more in ranked[1 : 1 + T.MORE_PASSAGES]:
        if shown >= T.SHORT_PASSAGE:
            break
        matches = more.facet >= T.SECOND_FACET if facets else more.topic > 0
        if not (matches and more.score >= T.SECOND_RATIO * first.score):
            break
        out.append(more.passage)
        shown += len(more.passage.text)
    return out
