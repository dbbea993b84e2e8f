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

from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz

from content.matcher.documents import KIND_CATALOG, KIND_INTERPRETATION, KIND_VILLAGE, Doc
from content.matcher.index import Index
from content.matcher.normalize import bigrams, normalize_doc
from content.matcher.query import Query

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


@dataclass(frozen=True)
class Scored:
    doc_index: int
    doc: Doc
    score: float
    cover: float
    key: float
    qa: float
    qa_best: int  # index of the closest Q&A question, -1 if none


@dataclass(frozen=True)
class Weights:
    cover: float = 0.40
    cover_key: float = 0.10
    key: float = 0.15
    qa: float = 0.10
    fuzzy: float = 0.05
    bm25: float = 0.10
    interp_qa_bonus: float = 0.0
    disclosure_bonus: float = 0.08
    village_bonus: float = 0.12
    abolished_penalty: float = 0.25


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


def _view(index: Index, i: int) -> _DocView:
    views: dict[int, _DocView] = index.views
    got = views.get(i)
    if got is None:
        doc = index.docs[i]
        keys = tuple((frozenset(bigrams(k)), 0.0) for k in _name_keys(doc))
        keys = tuple((kb, _weighted(index, kb)) for kb, _ in keys)
        kbig: frozenset[str] = frozenset().union(*(kb for kb, _ in keys)) if keys else frozenset()
        qs = tuple((qb, _weighted(index, qb)) for qb in (frozenset(bigrams(normalize_doc(q))) for q in doc.questions))
        got = _DocView(normalize_doc(doc.title), keys, kbig, qs)
        if len(views) > 100_000:
            views.clear()
        views[i] = got
    return got


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
    total_units = sum(u.weight for u in query.units) or 1.0
    qbig = query.bigrams
    expanded = query.expanded
    out: list[Scored] = []
    q_mass = _weighted(index, qbig)
    for i, bm in cands:
        doc = index.docs[i]
        dbig = index.doc_bigrams(i)
        view = _view(index, i)
        kbig = view.kbig
        cover = cover_key = 0.0
        for u in query.units:
            best = bestk = 0.0
            for alt in u.alts:
                if not alt:
                    continue
                best = max(best, len(alt & dbig) / len(alt))
                bestk = max(bestk, len(alt & kbig) / len(alt))
            cover += u.weight * best
            cover_key += u.weight * bestk
        cover /= total_units
        cover_key /= total_units
        key = 0.0
        for kb, denom in view.keys:
            if denom > 0:
                key = max(key, _weighted(index, kb & qbig) / denom)
        qa, qa_best = 0.0, -1
        for n, (qb, qmass) in enumerate(view.questions):
            denom = qmass + q_mass
            sim = 2 * _weighted(index, qb & qbig) / denom if denom > 0 else 0.0
            if sim > qa:
                qa, qa_best = sim, n
        fz = fuzz.partial_ratio(view.title, expanded) / 100.0
        score = (
            w.cover * cover
            + w.cover_key * cover_key
            + w.key * key
            + w.qa * qa
            + w.fuzzy * fz
            + w.bm25 * (bm / top_bm25)
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
        out.append(Scored(i, doc, score, cover, key, qa, qa_best))
    out.sort(key=lambda s: (-s.score, s.doc.kind != KIND_CATALOG, s.doc.id))
    return out


def confidence(best: Scored) -> float:
    """How sure we are the best candidate answers the question (for the abstention threshold)."""
    return max(best.cover, 0.5 * best.cover + 0.5 * max(best.key, best.qa))
