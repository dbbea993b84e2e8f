"""The in-memory search index: character unigram + bigram BM25 (bm25s) for candidates.

Why characters: Chinese questions from villagers are unsegmented, full of typos and dialect, and
jieba's default dictionary splits catalog terms badly (耕地地力 → 耕地/地/力). Unigrams and bigrams
need no segmentation, match partial words, and bm25s scores them from a sparse matrix in a few
milliseconds at 100k documents (see bench/matcher_speed.py). Token document frequencies are kept
for the IDF weights of the rerank features.
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
from content.matcher.normalize import bigrams, char_tokens, normalize_doc

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets itself to DEBUG on import


@dataclass
class Index:
    docs: list[Doc]
    texts: list[str]  # normalised index text of each doc
    vocab: dict[str, int]
    df: np.ndarray
    bm25: bm25s.BM25
    _bigram_cache: dict[int, frozenset[str]] = field(default_factory=dict)
    _idf_cache: dict[str, float] = field(default_factory=dict)
    views: dict[int, Any] = field(default_factory=dict)  # per-doc rerank views, filled by rank.py
    _mask_cache: dict[tuple[str | None, str | None], np.ndarray] = field(default_factory=dict)

    @classmethod
    def build(cls, docs: Sequence[Doc]) -> Index:
        docs = list(docs)
        vocab: dict[str, int] = {}
        ids: list[list[int]] = []
        texts: list[str] = []
        for doc in docs:
            text = normalize_doc(doc.index_text())
            texts.append(text)
            row = []
            for tok in char_tokens(text):
                tid = vocab.get(tok)
                if tid is None:
                    tid = vocab[tok] = len(vocab)
                row.append(tid)
            ids.append(row or [vocab.setdefault("", len(vocab))])
        vocab.setdefault("", len(vocab))
        df = np.zeros(len(vocab), dtype=np.int32)
        for row in ids:
            df[np.unique(np.asarray(row, dtype=np.int32))] += 1
        bm25 = bm25s.BM25(k1=1.2, b=0.5)
        bm25.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
        del ids
        return cls(docs=docs, texts=texts, vocab=vocab, df=df, bm25=bm25)

    @property
    def size(self) -> int:
        return len(self.docs)

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
        got = self._bigram_cache.get(i)
        if got is None:
            got = frozenset(bigrams(self.texts[i]))
            if len(self._bigram_cache) > 50_000:
                self._bigram_cache.clear()
            self._bigram_cache[i] = got
        return got

    def mask(self, township: str | None, village: str | None) -> np.ndarray:
        """1.0 for the docs a question may be answered from, 0.0 for the rest.

        Bound villager: their township's items, county-wide interpretations, their village's rows.
        Unbound: every township's items and the interpretations, no village rows.
        """
        key = (township, village)
        got = self._mask_cache.get(key)
        if got is None:
            got = np.zeros(self.size, dtype=np.float32)
            for i, doc in enumerate(self.docs):
                if doc.kind == KIND_VILLAGE:
                    ok = village is not None and doc.village == village
                else:
                    ok = township is None or doc.township is None or doc.township == township
                got[i] = 1.0 if ok else 0.0
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
        return [(int(i), float(scores[i])) for i in top]
