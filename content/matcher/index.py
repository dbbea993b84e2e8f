"""The in-memory search index: character unigram + bigram BM25 (bm25s) for candidates.

Why characters: Chinese questions from villagers are unsegmented, full of typos and dialect, and
jieba's default dictionary splits catalog terms badly (耕地地力 → 耕地/地/力). Unigrams and bigrams
need no segmentation, match partial words, and bm25s scores them from a sparse matrix in a few
milliseconds at 100k documents (see bench/matcher_speed.py). Token document frequencies are kept
for the IDF weights of the rerank features. The arrays are built by :mod:`content.matcher.indexing`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import bm25s
import numpy as np

from content.matcher.documents import KIND_VILLAGE, Doc
from content.matcher.indexing import ASCII_UNIT, bm25_arrays, fields, normalize_field
from content.matcher.normalize import bigrams

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets itself to DEBUG on import


@dataclass
class Index:
    docs: list[Doc]
    parts: list[str]  # distinct normalised fields
    doc_parts: np.ndarray  # each doc's field ids, concatenated (see ``text``)
    doc_ptr: np.ndarray
    vocab: dict[str, int]
    df: np.ndarray
    bm25: bm25s.BM25
    _is_village: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    _town: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    _village: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    _town_ids: dict[str, int] = field(default_factory=dict)
    _village_ids: dict[str, int] = field(default_factory=dict)
    _title_part: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    _raw_part: dict[str, int] = field(default_factory=dict)
    _lone_docs: dict[int, np.ndarray] = field(default_factory=dict)
    _idf_cache: dict[str, float] = field(default_factory=dict)
    views: Any = None  # the per-doc rerank views, made once by ``rank.prepare``
    _mask_cache: dict[tuple[str | None, str | None], np.ndarray] = field(default_factory=dict)

    @classmethod
    def build(cls, docs: Sequence[Doc]) -> Index:
        docs = list(docs)
        f = fields(docs)
        bm25, df = bm25_arrays(f, len(docs))
        town_ids: dict[str, int] = {}
        village_ids: dict[str, int] = {}
        town = np.fromiter(
            (-1 if d.township is None else town_ids.setdefault(d.township, len(town_ids)) for d in docs),
            dtype=np.int32,
            count=len(docs),
        )
        village = np.fromiter(
            (-1 if d.village is None else village_ids.setdefault(d.village, len(village_ids)) for d in docs),
            dtype=np.int32,
            count=len(docs),
        )
        is_village = np.fromiter((d.kind == KIND_VILLAGE for d in docs), dtype=bool, count=len(docs))
        return cls(
            docs=docs,
            parts=f.parts,
            doc_parts=f.doc_parts,
            doc_ptr=f.doc_ptr,
            vocab=f.vocab,
            df=df,
            bm25=bm25,
            _is_village=is_village,
            _town=town,
            _village=village,
            _town_ids=town_ids,
            _village_ids=village_ids,
            _title_part=f.title_part,
            _raw_part=f.by_raw,
            _lone_docs=f.lone_docs,
        )

    @property
    def size(self) -> int:
        return len(self.docs)

    def text(self, i: int) -> str:
        """The normalised index text of doc ``i`` (``normalize_doc(doc.index_text())``)."""
        parts = self.parts
        return " ".join(parts[p] for p in self.doc_parts[self.doc_ptr[i] : self.doc_ptr[i + 1]].tolist())

    def idf(self, token: str) -> float:
        got = self._idf_cache.get(token)
        if got is None:
            tid = self.vocab.get(token)
            n = len(self.docs)
            d = float(self.df[tid]) if tid is not None else 0.0
            got = math.log(1.0 + (n - d + 0.5) / (d + 0.5))
            if len(self._idf_cache) > 500_000:
                self._idf_cache.clear()
            self._idf_cache[token] = got
        return got

    def doc_bigrams(self, i: int) -> frozenset[str]:
        """The bigrams of doc ``i``'s normalised text (``bigrams(self.text(i))``); bigrams never cross a space."""
        own = dict.fromkeys(self.doc_parts[self.doc_ptr[i] : self.doc_ptr[i + 1]].tolist())
        return frozenset().union(*(bigrams(self.parts[p]) for p in own))

    def normalized(self, raw: str) -> str:
        """``normalize_doc(raw)``, without normalising again a field the index already holds."""
        pid = self._raw_part.get(raw)
        if pid is None:
            return normalize_field(raw)
        return self.parts[pid] if pid >= 0 else ""

    def title_text(self, i: int) -> str:
        """``normalize_doc(docs[i].title)``."""
        pid = int(self._title_part[i])
        return self.parts[pid] if pid >= 0 else ""

    def title_texts(self, docs: np.ndarray) -> list[str]:
        """``title_text`` of each of ``docs``."""
        parts = self.parts
        return [parts[p] if p >= 0 else "" for p in self._title_part[docs].tolist()]

    def has_grams(self, docs: np.ndarray, grams: Sequence[str]) -> np.ndarray:
        """Whether each of ``docs`` (int32) has each of ``grams`` among its ``doc_bigrams``: bool (docs × grams).

        Read from the BM25 matrix (a bigram of two units is a token, and its column lists the docs
        that have it, ascending), and for a lone unit (``bigrams`` of a one-unit segment) from the
        docs that have it as a segment of its own. No per-doc bigram sets are kept.
        """
        out = np.zeros((len(docs), len(grams)), dtype=bool)
        if not len(docs):
            return out
        scores = self.bm25.scores
        indptr, indices = scores["indptr"], scores["indices"]
        docs = docs.astype(np.int32, copy=False)
        for col, gram in enumerate(grams):
            tid = self.vocab.get(gram)
            if tid is None or not gram:
                continue
            if len(gram) == 1 or ASCII_UNIT.fullmatch(gram):
                have = self._lone_docs.get(tid)
                if have is None:
                    continue
            else:
                have = indices[indptr[tid] : indptr[tid + 1]]
            if not len(have):
                continue
            pos = np.searchsorted(have, docs)
            np.minimum(pos, len(have) - 1, out=pos)
            out[:, col] = have[pos] == docs
        return out

    def mask(self, township: str | None, village: str | None) -> np.ndarray:
        """1.0 for the docs a question may be answered from, 0.0 for the rest.

        Bound villager: their township's items, county-wide interpretations, their village's rows.
        Unbound: every township's items and the interpretations, no village rows.
        """
        key = (township, village)
        got = self._mask_cache.get(key)
        if got is None:
            if township is None:
                other = np.ones(self.size, dtype=bool)
            else:
                other = (self._town == -1) | (self._town == self._town_ids.get(township, -2))
            if village is None:
                own = np.zeros(self.size, dtype=bool)
            else:
                own = self._village == self._village_ids.get(village, -2)
            got = np.where(self._is_village, own, other).astype(np.float32)
            if len(self._mask_cache) > 256:
                self._mask_cache.clear()
            self._mask_cache[key] = got
        return got

    def candidates(self, tokens: Sequence[str], mask: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The top ``k`` docs by BM25 among those the mask allows, best first."""
        ids = [self.vocab[t] for t in tokens if t in self.vocab]
        if not ids:
            return []
        scores = self.bm25.get_scores_from_ids(ids, weight_mask=mask)
        k = min(k, int(np.count_nonzero(scores)))
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return list(zip(top.tolist(), scores[top].tolist(), strict=True))
