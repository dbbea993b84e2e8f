"""Rerank of the BM25 candidates with field-aware features, and the confidence used to abstain.

Features of a candidate doc for a question (all in 0..1):
- ``cover``: IDF-weighted share of the question's content words found in the doc (any field);
- ``cover_key``: the same against the doc's name (title, keywords) only;
- ``key``: how much of the doc's name (title or a keyword) the question mentions, IDF-weighted;
- ``qa``: for interpretations, the closest Q&A question (weighted Dice of bigrams);
- ``fuzzy``: rapidfuzz partial_ratio of the title against the question;
- ``bm25``: the BM25 score relative to the best candidate's.
Intent adjusts the mix: a question about whether/where something is published prefers catalog
items and the villager's own list rows; a question about policy content prefers the interpretation
whose Q&A matches it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz

from content.matcher.documents import KIND_CATALOG, KIND_INTERPRETATION, KIND_VILLAGE, Doc
from content.matcher.index import Index
from content.matcher.normalize import bigrams, normalize_doc
from content.matcher.query import Query, intents

# Words of a title that name its kind, not its matter: they count little in ``key``.
_GENERIC = (
    "办事指南",
    "办理指南",
    "申请办理指南",
    "政策解读",
    "解读",
    "政策文件",
    "政策法规",
    "实施方案",
    "情况",
    "信息",
    "公示",
    "公告",
    "结果",
    "渠道",
    "投诉举报",
    "政策",
    "标准",
    "（2026年修订）",
)


# Words of a title that make an item a published list or result; the intents that ask for one.
_LISTING = ("公示", "名单", "结果", "公告")
_LIST_INTENTS = frozenset({"roster", "publish", "payment", "progress", "spending", "penalty"})


@dataclass(frozen=True)
class Scored:
    doc_index: int
    doc: Doc
    score: float
    cover: float
    key: float
    qa: float
    qa_best: int  # index of the closest Q&A question, -1 if none
    disc: float = 0.0  # coverage of the words that tell the candidates apart
    fit: float = 0.5  # how well the item's kind fits the question's intents (0.5: no intent)
    known: float = 1.0  # share of the question's content-word mass the index knows at all
    offtopic: bool = False
    mass: float = 0.0  # IDF mass of the question's content words the doc covers
    missing: float = 0.0  # IDF mass of known content words the doc does not cover
    head: float = 1.0  # 0.0 when the question's most distinctive content word is unknown to every doc


@dataclass(frozen=True)
class Weights:
    cover: float = 0.30
    cover_key: float = 0.10
    key: float = 0.15
    qa: float = 0.10
    fuzzy: float = 0.05
    bm25: float = 0.10
    disc: float = 0.20
    intent: float = 0.10
    prefer: float = 0.25  # share of an intent's weight for the preferred kind of document
    listing: float = 0.04  # a published list or result, for a question that asks no list or result
    interp_qa_bonus: float = 0.0
    disclosure_bonus: float = 0.08
    village_bonus: float = 0.12
    abolished_penalty: float = 0.25
    oov: float = 0.35  # weight of a content word no doc has, relative to a known one
    disc_pool: int = 12  # candidates (by first-pass score) among which words are told apart


def _weighted(index: Index, grams: Iterable[str]) -> float:
    idf = index.idf
    return sum(idf(g) for g in grams)


@dataclass(frozen=True)
class _DocView:
    """A doc's normalised names and questions as bigram sets, with their IDF mass (cached per doc)."""

    title: str
    keys: tuple[tuple[frozenset[str], float], ...]
    kbig: frozenset[str]
    questions: tuple[tuple[frozenset[str], float], ...]
    fits: frozenset[str]  # the intents this item's kind fits
    listing: bool  # a published list or result (名单, 公示, 结果)


def _view(index: Index, i: int) -> _DocView:
    views: dict[int, _DocView] = index.views
    got = views.get(i)
    if got is None:
        doc = index.docs[i]
        keys = tuple((frozenset(bigrams(k)), 0.0) for k in _name_keys(doc))
        keys = tuple((kb, _weighted(index, kb)) for kb, _ in keys)
        kbig: frozenset[str] = frozenset().union(*(kb for kb, _ in keys)) if keys else frozenset()
        qs = tuple((qb, _weighted(index, qb)) for qb in (frozenset(bigrams(normalize_doc(q))) for q in doc.questions))
        listing = doc.kind != KIND_INTERPRETATION and any(w in doc.title for w in _LISTING)
        got = _DocView(normalize_doc(doc.title), keys, kbig, qs, _fits(doc), listing)
        if len(views) > 100_000:
            views.clear()
        views[i] = got
    return got


def _fits(doc: Doc) -> frozenset[str]:
    """The intents an item fits: an item cue in its name, group or elements (or Q&A questions)."""
    frame = " ".join((doc.title, doc.group, *doc.elements))
    qtext = " ".join(doc.questions)
    out: set[str] = set()
    for intent in intents().intents:
        in_frame = any(c in frame for c in intent.item_cues)
        # An interpretation's Q&A may mention a complaint phone or a payment date, but the catalog item
        # that publishes it (渠道, 发放情况, 进度查询) answers such an explicit intent: no fit through Q&A.
        in_qa = (
            doc.kind == KIND_INTERPRETATION
            and intent.prefer != KIND_CATALOG
            and any(c in qtext for c in (*intent.item_cues, *intent.cues))
        )
        if in_frame or in_qa:
            out.add(intent.name)
    return frozenset(out)


def _name_keys(doc: Doc) -> list[str]:
    title = doc.title
    for g in _GENERIC:
        stripped = title.replace(g, "")
        if len(stripped) >= 2:
            title = stripped
    return [normalize_doc(k) for k in (title, *doc.keywords) if k]


def score_candidates(
    index: Index, query: Query, cands: list[tuple[int, float]], weights: Weights | None = None
) -> list[Scored]:
    w = weights or Weights()
    if not cands:
        return []
    top_bm25 = max(s for _, s in cands) or 1.0
    units = query.units
    uw = [u.weight * (1.0 if u.known else w.oov) for u in units]
    total_units = sum(uw) or 1.0
    known_share = sum(x for x, u in zip(uw, units, strict=True) if u.known) / total_units if units else 0.0
    qbig = query.bigrams
    expanded = query.expanded
    idf = index.idf
    q_idf = {g: idf(g) for g in qbig}
    q_mass = sum(q_idf.values())
    q_intents = query.intents
    intent_mass = sum(i.weight for i in q_intents if i.item_cues)
    unit_alts = [tuple((alt, len(alt)) for alt in u.alts if alt) for u in units]
    first: list[tuple[float, int, Doc, _DocView, list[float], float, float, float, int, float]] = []
    for i, bm in cands:
        doc = index.docs[i]
        dbig = index.doc_bigrams(i)
        view = _view(index, i)
        kbig = view.kbig
        ucov: list[float] = []
        cover = cover_key = 0.0
        for alts, wt in zip(unit_alts, uw, strict=True):
            best = bestk = 0.0
            for alt, n_alt in alts:
                if best < 1.0:
                    got = len(alt & dbig) / n_alt
                    if got > best:
                        best = got
                if bestk < 1.0 and not alt.isdisjoint(kbig):
                    got = len(alt & kbig) / n_alt
                    if got > bestk:
                        bestk = got
            ucov.append(best)
            cover += wt * best
            cover_key += wt * bestk
        cover /= total_units
        cover_key /= total_units
        key = 0.0
        for kb, denom in view.keys:
            if denom > 0 and not kb.isdisjoint(qbig):
                got = sum(q_idf[g] for g in kb & qbig) / denom
                if got > key:
                    key = got
        qa, qa_best = 0.0, -1
        for n, (qb, qmass) in enumerate(view.questions):
            if qb.isdisjoint(qbig):
                continue
            denom = qmass + q_mass
            sim = 2 * sum(q_idf[g] for g in qb & qbig) / denom if denom > 0 else 0.0
            if sim > qa:
                qa, qa_best = sim, n
        fit = 0.5
        intent_term = 0.0
        if intent_mass > 0:
            got = 0.0
            for intent in q_intents:
                if not intent.item_cues:
                    continue
                if intent.name in view.fits:
                    got += intent.weight
                    intent_term += intent.weight * 0.5
                    if intent.prefer == doc.kind or (intent.prefer == KIND_CATALOG and doc.kind == KIND_VILLAGE):
                        intent_term += w.prefer * intent.weight
                else:
                    intent_term -= intent.weight * 0.5
            fit = got / intent_mass
        if view.listing and not (query.disclosure or any(i.name in _LIST_INTENTS for i in q_intents)):
            intent_term -= w.listing
        fz = fuzz.partial_ratio(view.title, expanded) / 100.0
        score = (
            w.cover * cover
            + w.cover_key * cover_key
            + w.key * key
            + w.qa * qa
            + w.fuzzy * fz
            + w.bm25 * (bm / top_bm25)
            + w.intent * intent_term
        )
        if doc.kind == KIND_INTERPRETATION:
            score += w.interp_qa_bonus * qa * (0.3 if query.disclosure else 1.0)
            if query.disclosure:
                score -= w.disclosure_bonus
        elif query.disclosure:
            score += w.disclosure_bonus * (1.0 if doc.kind == KIND_VILLAGE else 0.5)
        if doc.kind == KIND_VILLAGE and (query.village or query.disclosure):
            score += w.village_bonus * (1.5 if query.village else 1.0)
        if doc.abolished:
            score -= w.abolished_penalty
        first.append((score, i, doc, view, ucov, cover, key, qa, qa_best, fit))
    # Second pass: the words that tell the leading candidates apart (IDF within the candidate pool).
    first.sort(key=lambda t: -t[0])
    pool = first[: max(2, w.disc_pool)]
    n_pool = len(pool)
    dw: list[float] = []
    for j, wt in enumerate(uw):
        df = sum(1 for t in pool if t[4][j] >= 0.5)
        dw.append(wt * math.log((n_pool + 1.0) / (df + 0.5)) if df else 0.0)
    dmass = sum(dw)
    head_w = [u.weight if len(u.word) >= 2 else 0.0 for u in units]
    head_j = max(range(len(units)), key=head_w.__getitem__) if any(head_w) else -1
    short = sum(1 for x in head_w if x > 0) <= SHORT_WORDS
    internal = query.internal_words
    out: list[Scored] = []
    for score, i, doc, _, ucov, cover, key, qa, qa_best, fit in first:
        disc = sum(d * c for d, c in zip(dw, ucov, strict=True)) / dmass if dmass > 0 else 0.0
        score += w.disc * disc
        # Asks about internal work this doc says nothing about (an off-topic intent is judged after
        # retrieval, by ``overrules_offtopic``).
        offtopic = bool(internal) and not all(bigrams(word) <= index.doc_bigrams(i) for word in internal)
        mass = sum(wt * c for wt, c in zip(uw, ucov, strict=True))
        missing = sum(wt * (1.0 - c) for wt, c, u in zip(uw, ucov, units, strict=True) if u.known)
        head = 0.0 if short and head_j >= 0 and not units[head_j].known else 1.0
        out.append(
            Scored(i, doc, score, cover, key, qa, qa_best, disc, fit, known_share, offtopic, mass, missing, head)
        )
    out.sort(key=lambda s: (-s.score, s.doc.kind != KIND_CATALOG, s.doc.id))
    return out


def confidence(best: Scored) -> float:
    """How sure we are the best candidate answers the question (for the abstention threshold).

    The doc must cover the question's content words (``cover``), or name the matter the question
    names (``key``/``qa``) while covering part of its words; a question most of whose words no doc
    knows at all, or one with an off-topic intent (shopping, games, weather…), is not answered.
    """
    if best.offtopic:
        return 0.0
    named = min(max(best.key, best.qa), 3.0 * best.cover)
    conf = max(best.cover, named)
    if best.head < HEAD_FLOOR:
        conf *= HEAD_FACTOR
    if best.known < KNOWN_FLOOR:
        conf *= best.known / KNOWN_FLOOR
    return conf


def overrules_offtopic(index: Index, query: Query, best: Scored, cues: Iterable[str]) -> bool:
    """A document that answers a question despite weak chit-chat cues (露天电影 → 公益性文化活动).

    The document must cover a good share of the question's content words and support every cue:
    use the cue words itself, or a catalog concept the lexicon maps a term containing the cue to
    (so 看电影 abstains unless a document is about film screenings).
    """
    if best.offtopic or best.known < KNOWN_FLOOR or best.cover < OVERRULE_COVER:
        return False
    dbig = index.doc_bigrams(best.doc_index)
    for cue in cues:
        cb = bigrams(cue)
        if cb and len(cb & dbig) >= OVERRULE_CUE * len(cb):
            continue
        if not any(cue in term and any(bigrams(c) <= dbig for c in canon) for term, canon in query.concepts):
            return False
    return True


OVERRULE_COVER = 0.4  # a doc covering this share of the content words, and…
OVERRULE_CUE = 1.0  # …this share of each chit-chat cue's bigrams, overrules a weak chit-chat cue
KNOWN_FLOOR = 0.5  # below this share of known content-word mass, confidence shrinks
HEAD_FLOOR = 0.5  # a short question whose most distinctive word no doc knows…
HEAD_FACTOR = 0.5  # …has its confidence shrunk by this factor
SHORT_WORDS = 2  # a short question has at most this many content words of two or more characters
