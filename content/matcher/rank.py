"""Rerank of the BM25 candidates with field-aware features, and the confidence used to abstain.

Features of a candidate doc for a question (all in 0..1):
- ``cover``: IDF-weighted share of the question's content words found in the doc (any field; for an
  interpretation, its body too, which the index does not search: a word only the body has counts for
  less, ``BODY_COVER``);
- ``cover_key``: the same against the doc's name (title, keywords) only;
- ``key``: how much of the doc's name (title or a keyword) the question mentions, IDF-weighted;
- ``qa``: for interpretations, the closest Q&A question (weighted Dice of bigrams);
- ``fuzzy``: rapidfuzz partial_ratio of the title against the question;
- ``bm25``: the BM25 score relative to the best candidate's.
Asked a value only a body holds (a phone number), an interpretation that holds one gains, and gains
more when the passages holding it name the question's words (the office whose number is asked);
asked an amount or a date, a little by the share of the question's words its passages holding one have.
Intent adjusts the mix: a question about whether/where something is published prefers catalog
items and the villager's own list rows; a question about policy content prefers the interpretation
whose Q&A matches it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from rapidfuzz import fuzz, process

from content.matcher import tunables as T
from content.matcher.documents import KIND_CATALOG, KIND_INTERPRETATION, KIND_VILLAGE, Doc
from content.matcher.facets import facets, values_asked
from content.matcher.features import _intent_features, _name_features, _qa_features, _row_sums, _unit_coverage
from content.matcher.index import Index
from content.matcher.normalize import bigrams, normalize_doc
from content.matcher.passages import value_grams
from content.matcher.query import Query
from content.matcher.tunables import Weights
from content.matcher.views import Views, prepare

_QUESTION_WORDS = re.compile("哪个|哪家|哪种|哪里|什么|啥子|啥|多少|怎么|咋个|咋")
_LIST_INTENTS = frozenset({"roster", "publish", "payment", "progress", "spending", "penalty"})


class Scored(NamedTuple):
    """A candidate doc with its score and features (a named tuple: every question makes ~80 of them,
    and a frozen dataclass costs several times more to construct)."""

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


def score_candidates(
    index: Index, query: Query, cands: list[tuple[int, float]], weights: Weights | None = None
) -> list[Scored]:
    w = weights or Weights()
    if not cands:
        return []
    views = prepare(index)
    ids, bm25_scores = zip(*cands, strict=True)
    top_bm25 = max(bm25_scores) or 1.0
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
    internal = query.internal_words
    # Every bigram a feature looks up: first those of the words' alternatives and of the internal
    # words (for each candidate, whether its text has it, ``present``, and whether its name has it),
    # then the question's other bigrams (only for ``key``, from the names).
    unit_alts = [tuple(alt for alt in u.alts if alt) for u in units]
    internal_grams = [frozenset(bigrams(word)) for word in internal]
    cols: dict[str, int] = {}
    for grams_ in (*(alt for alts in unit_alts for alt in alts), *internal_grams):
        for g in grams_:
            cols.setdefault(g, len(cols))
    n_cover = len(cols)
    for g in qbig:
        cols.setdefault(g, len(cols))
    grams = list(cols)
    docs = np.array(ids, dtype=np.int32)
    present = index.has_grams(docs, grams[:n_cover])
    named, key_arr = _name_features(views, docs, grams, q_idf)
    n_cands = len(cands)
    ucov_arr, ucov_key = _unit_coverage(present, named[:, :n_cover], unit_alts, cols)
    if units and (T.BODY_COVER > 0 or T.BODY_COVER_KNOWN > 0):
        factors = [T.BODY_COVER_KNOWN if u.known else T.BODY_COVER for u in units]
        _body_coverage(index, ids, unit_alts, factors, ucov_arr)
    uw_arr = np.asarray(uw, dtype=np.float64)
    mass_arr = _row_sums(ucov_arr * uw_arr)  # IDF mass of the question's content words the doc covers
    cover_arr = mass_arr / total_units
    cover_key_arr = _row_sums(ucov_key * uw_arr) / total_units
    offtopic_arr = np.zeros(n_cands, dtype=bool)
    if internal:
        # asks about internal work this doc says nothing about
        for ig in internal_grams:
            offtopic_arr |= ~present[:, [cols[g] for g in ig]].all(axis=1)
        # an interpretation whose body names the internal work (镇纪委's phone) speaks of it
        for c in np.flatnonzero(offtopic_arr).tolist():
            body = body_grams(index.docs[ids[c]])
            if body and all(ig <= body or all(present[c, cols[g]] for g in ig) for ig in internal_grams):
                offtopic_arr[c] = False
    # First pass, over all candidates at once: the same operands in the same order as adding up
    # each candidate's features one by one, so every score is the same float.
    bm = np.array(bm25_scores, dtype=np.float64)
    kinds = views.kind_code[docs]
    is_interp = kinds == views.kind_ids.get(KIND_INTERPRETATION, -1)
    is_village = kinds == views.kind_ids.get(KIND_VILLAGE, -1)
    qa_arr, qa_best_arr = _qa_features(views, docs, qbig, q_idf, q_mass)
    fit_arr, intent_arr = _intent_features(views, docs, kinds, q_intents, intent_mass, w)
    if not (query.disclosure or any(i.name in _LIST_INTENTS for i in q_intents)):
        # a published list or result, for a question that asks for none
        intent_arr = np.where(views.listing[docs], intent_arr - w.listing, intent_arr)
    # partial_ratio of each title against the question (symmetric: one call with the question cached)
    fz = process.cdist([expanded], index.title_texts(docs), scorer=fuzz.partial_ratio, dtype=np.float64)[0]
    score = (
        w.cover * cover_arr
        + w.cover_key * cover_key_arr
        + w.key * key_arr
        + w.qa * qa_arr
        + w.fuzzy * (fz / 100.0)
        + w.bm25 * (bm / top_bm25)
        + w.intent * intent_arr
    )
    score = np.where(
        is_interp, score + w.interp_qa_bonus * qa_arr * (w.interp_qa_disclosure if query.disclosure else 1.0), score
    )
    if query.disclosure:
        others = score + w.disclosure_bonus * np.where(is_village, 1.0, w.disclosure_catalog)
        score = np.where(is_interp, score - w.disclosure_bonus, others)
    if query.village or query.disclosure:
        score = np.where(is_village, score + w.village_bonus * (w.village_own if query.village else 1.0), score)
    score = np.where(views.abolished[docs], score - w.abolished_penalty, score)
    valued = [f for f in query.facets if f.value is not None and f.name in T.VALUE_FACETS]
    if valued and w.facet_value:
        # a document whose text holds the value asked (a phone number): catalog fields never do
        holds = np.fromiter(
            (any(f.name in holds_values(index.docs[i]) for f in valued) for i in ids), dtype=bool, count=n_cands
        )
        score = np.where(holds, score + w.facet_value * cover_arr / max(float(cover_arr.max()), 1e-9), score)
        if w.value_topic:
            # …and more when the passage holding it names what is asked (社会事务办 0883-6712035)
            patterns = values_asked(valued, T.VALUE_FACETS)
            score = score + w.value_topic * _value_covers(index, ids, holds.tolist(), patterns, unit_alts, uw)
    asked = values_asked(query.facets, T.NAMED_VALUE_FACETS)
    if asked and not valued and w.value_topic_named and not _asks_of_fields(query):
        # asked an amount or a date: the passages holding one that name the question's words
        lead = set(np.argsort(-score, kind="stable")[: max(2, w.disc_pool)].tolist())  # the leading candidates
        chosen = [c in lead for c in range(n_cands)]
        score = score + w.value_topic_named * _value_covers(index, ids, chosen, asked, unit_alts, uw)
    # Second pass: the words that tell the leading candidates apart (IDF within the candidate pool).
    order = np.argsort(-score, kind="stable")  # by first-pass score, ties in BM25 order
    pool = order[: max(2, w.disc_pool)]
    n_pool = len(pool)
    dfs = (ucov_arr[pool] >= w.disc_covered).sum(axis=0).tolist()
    dw = [wt * math.log((n_pool + 1.0) / (df + 0.5)) if df else 0.0 for wt, df in zip(uw, dfs, strict=True)]
    dmass = sum(dw)
    disc_arr = _row_sums(ucov_arr * np.asarray(dw, dtype=np.float64)) / dmass if dmass > 0 else np.zeros(n_cands)
    known = [j for j, u in enumerate(units) if u.known]
    missing_arr = _row_sums((1.0 - ucov_arr[:, known]) * uw_arr[known])
    score = score + w.disc * disc_arr
    # (an off-topic intent is judged after retrieval, by ``overrules_offtopic``)
    head_w = [u.weight if len(u.word) >= 2 else 0.0 for u in units]
    head_j = max(range(len(units)), key=head_w.__getitem__) if any(head_w) else -1
    short = sum(1 for x in head_w if x > 0) <= T.SHORT_WORDS
    head_arr = np.ones(n_cands)
    if short and head_j >= 0 and not units[head_j].known:
        # unknown to every field searched: only a candidate whose body has it names it
        head_arr = (ucov_arr[:, head_j] > 0).astype(np.float64)
    # Final order: by score, catalog items first, then by id; ties keep the first-pass order.
    not_catalog = kinds != views.kind_ids.get(KIND_CATALOG, -1)
    final = order[np.lexsort((views.id_rank[docs[order]], not_catalog[order], -score[order]))]
    at = docs[final].tolist()
    all_docs = index.docs
    features = (score, cover_arr, key_arr, qa_arr, qa_best_arr, disc_arr, fit_arr)
    rows = zip(
        at,
        [all_docs[i] for i in at],
        *(col[final].tolist() for col in features),
        [known_share] * n_cands,
        *(col[final].tolist() for col in (offtopic_arr, mass_arr, missing_arr)),
        head_arr[final].tolist(),
        strict=True,
    )
    return list(map(Scored._make, rows))  # fields in ``Scored`` order


@lru_cache(maxsize=65_536)
def body_grams(doc: Doc) -> frozenset[str]:
    """The bigrams of an interpretation's body (summary and answers), which the index does not search."""
    if doc.kind != KIND_INTERPRETATION or not doc.body_showable:
        return frozenset()
    return frozenset(bigrams(normalize_doc(" ".join((doc.summary, *doc.answers)))))


def _body_coverage(
    index: Index,
    ids: tuple[int, ...],
    unit_alts: list[tuple[frozenset[str], ...]],
    factors: list[float],
    ucov: np.ndarray,
) -> None:
    """Let an interpretation candidate cover, for ``factors[j]`` of a word, each word its body has:
    most (``BODY_COVER``) for a word no field the index searches has (水田 in "水田每亩58,000元"),
    little (``BODY_COVER_KNOWN``) for a known one, which a body mostly mentions in passing (医保 in
    the pension document)."""
    docs = index.docs
    for c, i in enumerate(ids):
        if docs[i].kind != KIND_INTERPRETATION:
            continue
        body = body_grams(docs[i])
        if not body:
            continue
        for j, alts in enumerate(unit_alts):
            if not alts or ucov[c, j] >= factors[j]:
                continue
            share = max(len(alt & body) / len(alt) for alt in alts)
            ucov[c, j] = max(ucov[c, j], factors[j] * share)


@lru_cache(maxsize=65_536)
def holds_values(doc: Doc) -> frozenset[str]:
    """The facets whose value (an amount, a date, a phone number) the document's answers or summary hold."""
    if doc.kind != KIND_INTERPRETATION or not doc.body_showable:
        return frozenset()
    text = " ".join((doc.summary, *doc.answers))
    return frozenset(f.name for f in facets().facets if f.value is not None and f.value.search(text))


def _asks_of_fields(query: Query) -> bool:
    """Where or when a thing is published, a list, a count or a progress: a catalog item's own fields answer."""
    if query.disclosure or any(f.name == "publish" for f in query.facets):
        return True
    return any(i.name in T.ROW_INTENTS for i in query.intents)


def _value_covers(
    index: Index,
    ids: Iterable[int],
    chosen: Iterable[bool],
    patterns: tuple[re.Pattern[str], ...],
    unit_alts: list[tuple[frozenset[str], ...]],
    uw: list[float],
) -> np.ndarray:
    """:func:`_value_cover` of each chosen candidate, 0 for the others."""
    covers = [
        _value_cover(index.docs[i], patterns, unit_alts, uw) if c else 0.0 for i, c in zip(ids, chosen, strict=True)
    ]
    return np.asarray(covers, dtype=np.float64)


def _value_cover(
    doc: Doc, patterns: tuple[re.Pattern[str], ...], unit_alts: list[tuple[frozenset[str], ...]], uw: list[float]
) -> float:
    """Weighted share of the question's content words that the document's passages holding a value
    asked (a phone number) have: the office the question names, beside its number."""
    grams = value_grams(doc, patterns)
    total = sum(uw) or 1.0
    return sum(wt for alts, wt in zip(unit_alts, uw, strict=True) if any(a <= grams for a in alts if a)) / total


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
    if best.head < T.HEAD_FLOOR:
        conf *= T.HEAD_FACTOR
    if best.known < T.KNOWN_FLOOR:
        conf *= best.known / T.KNOWN_FLOOR
    return conf


def overrules_offtopic(index: Index, query: Query, best: Scored, cues: Iterable[str]) -> bool:
    """A document that answers a question despite weak chit-chat cues (露天电影 → 公益性文化活动).

    The document must cover a good share of the question's content words and support every cue:
    use the cue words itself (in its fields or, for an interpretation, its body), or a catalog
    concept the lexicon maps a term containing the cue to (so 看电影 abstains unless a document is
    about film screenings).
    """
    if best.offtopic or best.known < T.KNOWN_FLOOR or best.cover < T.OVERRULE_COVER:
        return False
    dbig = index.doc_bigrams(best.doc_index) | body_grams(best.doc)  # what the document says, body too
    for cue in cues:
        cb = bigrams(_QUESTION_WORDS.sub(" ", cue))  # 哪个银行: the document must speak of 银行
        if cb and len(cb & dbig) >= T.OVERRULE_CUE * len(cb):
            continue
        if not any(cue in term and any(bigrams(c) <= dbig for c in canon) for term, canon in query.concepts):
            return False
    return True


__all__ = ["Scored", "Views", "Weights", "confidence", "overrules_offtopic", "prepare", "score_candidates"]
