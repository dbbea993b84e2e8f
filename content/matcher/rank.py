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
import re
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from rapidfuzz import fuzz, process

from content.matcher.documents import KIND_CATALOG, KIND_INTERPRETATION, KIND_VILLAGE, Doc
from content.matcher.index import Index
from content.matcher.normalize import bigrams
from content.matcher.query import Intent, Query, intents

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
class Views:
    """Every doc's rerank view, made once when the matcher is built (``prepare``), in compact form.

    - names: each doc's name keys (its title without generic words, its keywords, normalised) as
      ids of distinct keys (``doc_key_ptr``/``doc_keys``); each distinct key's bigrams as ids into
      ``name_ids`` (``key_big_ptr``/``key_big``), with its IDF mass (``key_mass``);
    - questions: the Q&A questions' bigram sets with their IDF mass, for the docs that have some;
    - fits: the intents each doc's kind fits (shared frozensets), also as a row of booleans over
      ``intents().intents`` (``fit_id``/``fit_rows``); listing: a published list or result;
    - kind, abolished and the rank of the id, for the per-question scoring in numpy.
    A doc's own bigrams are not kept: ``Index.has_grams`` reads them from the BM25 matrix.
    """

    doc_key_ptr: np.ndarray  # int64, n_docs + 1
    doc_keys: np.ndarray  # int32 distinct key ids
    key_big_ptr: np.ndarray  # int64, n_keys + 1
    key_big: np.ndarray  # int32 name bigram ids
    key_mass: np.ndarray  # float64 IDF mass of each distinct key's bigrams
    name_ids: dict[str, int]
    questions: dict[int, tuple[tuple[frozenset[str], float], ...]]
    has_questions: np.ndarray  # bool: the doc has Q&A questions (is a key of ``questions``)
    fits: list[frozenset[str]]
    listing: np.ndarray  # bool
    fit_id: np.ndarray  # int32: each doc's row of ``fit_rows``
    fit_rows: np.ndarray  # bool (distinct fit sets × intents): a fit set has ``intents().intents[b]``
    fit_cols: dict[str, int]  # an intent's name → its column of ``fit_rows``
    kind_ids: dict[str, int]  # each doc kind → its code
    kind_code: np.ndarray  # int32 code of each doc's kind
    abolished: np.ndarray  # bool
    id_rank: np.ndarray  # int32: the rank of each doc's id among the distinct ids (sorts as the ids)


def prepare(index: Index) -> Views:
    """The rerank views of every doc of ``index`` (kept on it, so made once per index)."""
    views = index.views
    if isinstance(views, Views):
        return views
    key_ids: dict[str, int] = {}
    name_ids: dict[str, int] = {}
    key_big_ptr = array("q", [0])
    key_big = array("i")
    key_mass = array("d")
    doc_key_ptr = array("q", [0])
    doc_keys = array("i")
    name_idf: list[float] = []
    questions: dict[int, tuple[tuple[frozenset[str], float], ...]] = {}
    fitter = _Fitter()
    fits: list[frozenset[str]] = []
    listing = np.zeros(index.size, dtype=bool)
    stripped: dict[str, str] = {}  # raw title → its name (normalised, generic words left out)
    idf = index.idf
    for i, doc in enumerate(index.docs):
        for name in _name_keys(index, doc, stripped):
            kid = key_ids.get(name)
            if kid is None:
                kid = key_ids[name] = len(key_ids)
                ids: list[int] = []
                for g in frozenset(bigrams(name)):
                    nid = name_ids.get(g)
                    if nid is None:
                        nid = name_ids[g] = len(name_ids)
                        name_idf.append(idf(g))
                    ids.append(nid)
                key_big.extend(ids)
                key_big_ptr.append(len(key_big))
                key_mass.append(sum(name_idf[n] for n in ids))  # as ``_weighted``, in the same order
            doc_keys.append(kid)
        doc_key_ptr.append(len(doc_keys))
        if doc.questions:
            qs = (frozenset(bigrams(index.normalized(q))) for q in doc.questions)
            questions[i] = tuple((qb, _weighted(index, qb)) for qb in qs)
        fits.append(fitter.fits(doc))
        listing[i] = doc.kind != KIND_INTERPRETATION and any(w in doc.title for w in _LISTING)
    fit_id, fit_rows, fit_cols = _fit_table(fits)
    kind_ids: dict[str, int] = {}
    kind_code = np.fromiter(
        (kind_ids.setdefault(d.kind, len(kind_ids)) for d in index.docs), dtype=np.int32, count=index.size
    )
    id_rank_of = {doc_id: r for r, doc_id in enumerate(sorted({d.id for d in index.docs}))}
    has_questions = np.zeros(index.size, dtype=bool)
    has_questions[list(questions)] = True
    views = Views(
        doc_key_ptr=np.frombuffer(doc_key_ptr, dtype=np.int64),
        doc_keys=np.frombuffer(doc_keys, dtype=np.int32),
        key_big_ptr=np.frombuffer(key_big_ptr, dtype=np.int64),
        key_big=np.frombuffer(key_big, dtype=np.int32),
        key_mass=np.frombuffer(key_mass, dtype=np.float64),
        name_ids=name_ids,
        questions=questions,
        has_questions=has_questions,
        fits=fits,
        listing=listing,
        fit_id=fit_id,
        fit_rows=fit_rows,
        fit_cols=fit_cols,
        kind_ids=kind_ids,
        kind_code=kind_code,
        abolished=np.fromiter((d.abolished for d in index.docs), dtype=bool, count=index.size),
        id_rank=np.fromiter((id_rank_of[d.id] for d in index.docs), dtype=np.int32, count=index.size),
    )
    index.views = views
    return views


def _fit_table(fits: list[frozenset[str]]) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Each doc's row id, the rows (which of ``intents().intents`` each distinct fit set has) and the columns."""
    names = [i.name for i in intents().intents]
    cols: dict[str, int] = {}
    for col, name in enumerate(names):
        cols.setdefault(name, col)
    row_of: dict[frozenset[str], int] = {}
    fit_id = np.fromiter((row_of.setdefault(f, len(row_of)) for f in fits), dtype=np.int32, count=len(fits))
    rows = np.zeros((len(row_of), len(names)), dtype=bool)
    for f, r in row_of.items():
        rows[r] = [name in f for name in names]
    return fit_id, rows, cols


def _ranges(ptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The positions ``ptr[r]:ptr[r + 1]`` of each of ``rows``, concatenated, and which row each is of."""
    starts = ptr[rows]
    lens = ptr[rows + 1] - starts
    if (lens == 1).all():  # one position per row (most docs have one name key, their title)
        return starts, np.arange(len(rows), dtype=np.int64)
    total = int(lens.sum())
    owner = np.repeat(np.arange(len(rows), dtype=np.int64), lens)
    offsets = np.zeros(len(rows), dtype=np.int64)
    np.cumsum(lens[:-1], out=offsets[1:])
    return np.repeat(starts - offsets, lens) + np.arange(total, dtype=np.int64), owner


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


class _Fitter:
    """``_fits`` of many docs: which intents' item cues a field has is found once per distinct field.

    A cue has no space, so it is in the fields joined by spaces exactly when it is in one of them.
    """

    def __init__(self) -> None:
        self.intents = intents().intents
        self.split = all(" " not in c for i in self.intents for c in (*i.cues, *i.item_cues))
        # one search per intent: a text has one of the cues exactly when the alternation finds a match
        self.cues = [
            (1 << bit, re.compile("|".join(re.escape(c) for c in i.item_cues)))
            for bit, i in enumerate(self.intents)
            if i.item_cues
        ]
        self.field_masks: dict[str, int] = {}
        self.sets: dict[int, frozenset[str]] = {}

    def _mask(self, text: str) -> int:
        got = self.field_masks.get(text)
        if got is None:
            got = 0
            for bit, pattern in self.cues:
                if pattern.search(text):
                    got |= bit
            self.field_masks[text] = got
        return got

    def fits(self, doc: Doc) -> frozenset[str]:
        if not self.split:
            return _fits(doc)
        mask = self._mask(doc.title) | self._mask(doc.group)
        for element in doc.elements:
            mask |= self._mask(element)
        if doc.kind == KIND_INTERPRETATION and doc.questions:
            qtext = " ".join(doc.questions)
            for bit, intent in enumerate(self.intents):
                if intent.prefer != KIND_CATALOG and any(c in qtext for c in (*intent.item_cues, *intent.cues)):
                    mask |= 1 << bit
        got = self.sets.get(mask)
        if got is None:
            got = self.sets[mask] = frozenset(i.name for bit, i in enumerate(self.intents) if mask >> bit & 1)
        return got


def _name_keys(index: Index, doc: Doc, stripped: dict[str, str]) -> list[str]:
    """The doc's title without generic words, and its keywords, normalised (empty ones kept)."""
    raw = doc.title
    name = stripped.get(raw)
    if name is None:
        title = raw
        for g in _GENERIC:
            cut = title.replace(g, "")
            if len(cut) >= 2:
                title = cut
        name = stripped[raw] = index.normalized(title)
    keys = [index.normalized(k) for k in doc.keywords if k]
    return [name, *keys] if raw else keys


def _name_features(
    views: Views, docs: np.ndarray, grams: list[str], q_idf: dict[str, float]
) -> tuple[np.ndarray, np.ndarray]:
    """For each candidate: which of ``grams`` its name keys have (bool docs × grams), and ``key``.

    ``key`` is the best over the doc's name keys of the IDF share of the key the question's bigrams
    cover (0 for a key with no bigram of the question).
    """
    n_docs = len(docs)
    named = np.zeros((n_docs, len(grams)), dtype=bool)
    key = np.zeros(n_docs)
    found = [(nid, col) for col, g in enumerate(grams) if (nid := views.name_ids.get(g)) is not None]
    if not found or not n_docs:
        return named, key
    found.sort()
    q_ids = np.fromiter((nid for nid, _ in found), dtype=np.int32, count=len(found))
    q_cols = np.fromiter((col for _, col in found), dtype=np.int64, count=len(found))
    at_keys, key_owner = _ranges(views.doc_key_ptr, docs.astype(np.int64))
    doc_keys = views.doc_keys[at_keys]
    at_big, big_owner = _ranges(views.key_big_ptr, doc_keys.astype(np.int64))
    ids = views.key_big[at_big]
    at = np.searchsorted(q_ids, ids)
    np.minimum(at, len(q_ids) - 1, out=at)
    hit = q_ids[at] == ids
    hit_key = big_owner[hit]
    hit_col = q_cols[at[hit]]
    named[key_owner[hit_key], hit_col] = True
    in_q = np.fromiter((g in q_idf for g in grams), dtype=bool, count=len(grams))[hit_col]
    col_idf = np.fromiter((q_idf.get(g, 0.0) for g in grams), dtype=np.float64, count=len(grams))
    n_keys = len(doc_keys)
    num = np.bincount(hit_key[in_q], weights=col_idf[hit_col[in_q]], minlength=n_keys)
    mentioned = np.bincount(hit_key[in_q], minlength=n_keys) > 0
    mass = views.key_mass[doc_keys]
    ok = mentioned & (mass > 0)
    val = np.zeros(n_keys)
    val[ok] = num[ok] / mass[ok]
    np.maximum.at(key, key_owner, val)
    return named, key


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
    uw_arr = np.asarray(uw, dtype=np.float64)
    mass_arr = _row_sums(ucov_arr * uw_arr)  # IDF mass of the question's content words the doc covers
    cover_arr = mass_arr / total_units
    cover_key_arr = _row_sums(ucov_key * uw_arr) / total_units
    offtopic_arr = np.zeros(n_cands, dtype=bool)
    if internal:
        # asks about internal work this doc says nothing about
        for ig in internal_grams:
            offtopic_arr |= ~present[:, [cols[g] for g in ig]].all(axis=1)
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
    score = np.where(is_interp, score + w.interp_qa_bonus * qa_arr * (0.3 if query.disclosure else 1.0), score)
    if query.disclosure:
        others = score + w.disclosure_bonus * np.where(is_village, 1.0, 0.5)
        score = np.where(is_interp, score - w.disclosure_bonus, others)
    if query.village or query.disclosure:
        score = np.where(is_village, score + w.village_bonus * (1.5 if query.village else 1.0), score)
    score = np.where(views.abolished[docs], score - w.abolished_penalty, score)
    # Second pass: the words that tell the leading candidates apart (IDF within the candidate pool).
    order = np.argsort(-score, kind="stable")  # by first-pass score, ties in BM25 order
    pool = order[: max(2, w.disc_pool)]
    n_pool = len(pool)
    dfs = (ucov_arr[pool] >= 0.5).sum(axis=0).tolist()
    dw = [wt * math.log((n_pool + 1.0) / (df + 0.5)) if df else 0.0 for wt, df in zip(uw, dfs, strict=True)]
    dmass = sum(dw)
    disc_arr = _row_sums(ucov_arr * np.asarray(dw, dtype=np.float64)) / dmass if dmass > 0 else np.zeros(n_cands)
    known = [j for j, u in enumerate(units) if u.known]
    missing_arr = _row_sums((1.0 - ucov_arr[:, known]) * uw_arr[known])
    score = score + w.disc * disc_arr
    # (an off-topic intent is judged after retrieval, by ``overrules_offtopic``)
    head_w = [u.weight if len(u.word) >= 2 else 0.0 for u in units]
    head_j = max(range(len(units)), key=head_w.__getitem__) if any(head_w) else -1
    short = sum(1 for x in head_w if x > 0) <= SHORT_WORDS
    head = 0.0 if short and head_j >= 0 and not units[head_j].known else 1.0
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
        [head] * n_cands,
        strict=True,
    )
    return list(map(Scored._make, rows))  # fields in ``Scored`` order


def _qa_features(
    views: Views, docs: np.ndarray, qbig: frozenset[str], q_idf: dict[str, float], q_mass: float
) -> tuple[np.ndarray, np.ndarray]:
    """Each candidate's ``qa`` (weighted Dice of bigrams with its closest Q&A question) and that question's index.

    Candidates without Q&A questions (all but the interpretations) get 0.0 and -1.
    """
    qa = np.zeros(len(docs))
    best = np.full(len(docs), -1, dtype=np.int64)
    with_questions = np.flatnonzero(views.has_questions[docs])
    for c, i in zip(with_questions.tolist(), docs[with_questions].tolist(), strict=True):
        top, top_n = 0.0, -1
        for n, (qb, qmass) in enumerate(views.questions[i]):
            if qb.isdisjoint(qbig):
                continue
            denom = qmass + q_mass
            sim = 2 * sum(map(q_idf.__getitem__, qb & qbig)) / denom if denom > 0 else 0.0
            if sim > top:
                top, top_n = sim, n
        qa[c], best[c] = top, top_n
    return qa, best


def _intent_features(
    views: Views, docs: np.ndarray, kinds: np.ndarray, q_intents: tuple[Intent, ...], intent_mass: float, w: Weights
) -> tuple[np.ndarray, np.ndarray]:
    """Each candidate's ``fit`` (0.5 for a question without intents) and intent term.

    For each of the question's intents with item cues, in order: an item that fits it gains half its
    weight (and ``w.prefer`` of it more when of the preferred kind, a village row counting as a catalog
    item), one that does not loses half its weight.
    """
    n = len(docs)
    term = np.zeros(n)
    if not intent_mass > 0:
        return np.full(n, 0.5), term
    got = np.zeros(n)
    fit_rows = views.fit_rows[views.fit_id[docs]]
    village = kinds == views.kind_ids.get(KIND_VILLAGE, -1)
    for intent in q_intents:
        if not intent.item_cues:
            continue
        col = views.fit_cols.get(intent.name)
        has = fit_rows[:, col] if col is not None else np.zeros(n, dtype=bool)
        got = np.where(has, got + intent.weight, got)
        term = np.where(has, term + intent.weight * 0.5, term - intent.weight * 0.5)
        preferred = kinds == views.kind_ids.get(intent.prefer, -1)
        if intent.prefer == KIND_CATALOG:
            preferred |= village
        term = np.where(has & preferred, term + w.prefer * intent.weight, term)
    return got / intent_mass, term


def _unit_coverage(
    present: np.ndarray, named: np.ndarray, unit_alts: list[tuple[frozenset[str], ...]], cols: dict[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's coverage by each candidate's text (``present``) and name (``named``): candidates × units.

    A unit's coverage is the best, over its alternatives, of the share of the alternative's bigrams
    the doc has (0.0 for a unit without alternatives). The bigram counts are small integers, exact
    in float64 whatever the order of the matrix product's additions.
    """
    n_cands, n_units = present.shape[0], len(unit_alts)
    alts = [alt for unit in unit_alts for alt in unit]
    if not alts:
        return np.zeros((n_cands, n_units)), np.zeros((n_cands, n_units))
    sizes = [len(alt) for alt in alts]
    incidence = np.zeros((present.shape[1], len(alts)))  # bigram column × alternative
    incidence[[cols[g] for alt in alts for g in alt], np.repeat(np.arange(len(alts)), sizes)] = 1.0
    # the text's and the name's share of every alternative's bigrams, in one product
    shares = (np.concatenate((present, named)).astype(np.float64) @ incidence) / np.asarray(sizes, dtype=np.float64)
    # a unit's k-th alternative in layer k, the missing ones 0.0 (a share is never below 0)
    layers = np.zeros((max(len(unit) for unit in unit_alts), 2 * n_cands, n_units))
    kth = [k for unit in unit_alts for k in range(len(unit))]
    owner = [j for j, unit in enumerate(unit_alts) for _ in unit]
    layers[kth, :, owner] = shares.T
    best = layers.max(axis=0)
    return best[:n_cands], best[n_cands:]


def _row_sums(terms: np.ndarray) -> np.ndarray:
    """Each row's sum, adding its columns left to right (as ``sum`` adds a Python list, so the same float)."""
    out = np.zeros(terms.shape[0])
    for j in range(terms.shape[1]):
        out += terms[:, j]
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
