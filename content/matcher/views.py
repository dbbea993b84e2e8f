"""Every doc's rerank view, made once when the matcher is built (``prepare``), in compact arrays.

What a question's scoring reads of a doc without looking at its text again: its name keys (title
without generic words, keywords) as bigram ids, its Q&A questions' bigram sets, the intents its kind
fits, whether it is a published list, its kind, abolished flag and the rank of its id.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from content.matcher.documents import KIND_CATALOG, KIND_INTERPRETATION, Doc
from content.matcher.index import Index
from content.matcher.normalize import bigrams
from content.matcher.query import intents

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
