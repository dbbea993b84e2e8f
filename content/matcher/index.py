"""The in-memory search index: character unigram + bigram BM25 (bm25s) for candidates.

Why characters: Chinese questions from villagers are unsegmented, full of typos and dialect, and
jieba's default dictionary splits catalog terms badly (耕地地力 → 耕地/地/力). Unigrams and bigrams
need no segmentation, match partial words, and bm25s scores them from a sparse matrix in a few
milliseconds at 100k documents (see bench/matcher_speed.py). Token document frequencies are kept
for the IDF weights of the rerank features.

Building fast (100k docs in seconds, not a minute): a doc's index text is its fields joined by
spaces (``Doc.index_parts``), and normalisation and tokens never cross a space, so each distinct
field is normalised and tokenised once (titles repeat three times, elements and groups across
thousands of docs). The BM25 matrix is then assembled with numpy from the per-field token counts,
with exactly the arithmetic of ``bm25s.BM25.index`` (same float32 values, same vocabulary ids), so
the candidates are the same as indexing the joined texts with bm25s directly. The doc texts are not
kept: a doc is a short list of ids into the shared distinct fields.
"""

from __future__ import annotations

import logging
import math
import re
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import bm25s
import numpy as np

from content.matcher import normalize as _normalize
from content.matcher.documents import KIND_VILLAGE, Doc
from content.matcher.normalize import bigrams, char_tokens, normalize_doc

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets itself to DEBUG on import

K1 = 1.2
B = 0.5
_ASCII_UNIT = re.compile(r"[a-z0-9.%]+")  # a segment that is one unit (as ``normalize._units`` splits it)
_CHUNK_DOCS = 4_096  # docs merged per numpy pass while building (bounds the temporary arrays)
# Text that ``normalize_doc`` returns unchanged: CJK ideographs only (all assigned, none with a
# compatibility form), with no Chinese numeral and no filler word. Most titles and elements are
# such text, and telling it costs a regex match instead of a normalisation (tests check the two
# agree).
_PLAIN = re.compile("[\u4e00-\u9fef]+")
_NOT_PLAIN = re.compile(f"[{_normalize._NUMERAL_CHARS}]|{_normalize._FILLER_RE.pattern}")


def normalize_field(raw: str) -> str:
    """``normalize_doc(raw)``, at once for text it would leave unchanged."""
    if _PLAIN.fullmatch(raw) and not _NOT_PLAIN.search(raw):
        return raw
    return normalize_doc(raw)


@dataclass
class _Fields:
    """Distinct normalised fields, their token ids, and each doc's fields in order."""

    parts: list[str]  # distinct normalised fields
    part_tokens: array[int]  # int32 token ids of every distinct field, concatenated
    part_len: array[int]  # int32: how many tokens each distinct field has
    doc_parts: np.ndarray  # int32: each doc's field ids in order (repeats kept), concatenated
    doc_ptr: np.ndarray  # int64: doc i's fields are doc_parts[doc_ptr[i]:doc_ptr[i + 1]]
    doc_len: array[int]  # int64: tokens per doc (what bm25s counts as the doc length)
    empty_docs: list[int]  # docs with no token at all: indexed with the "" token, as bm25s does
    vocab: dict[str, int]
    by_raw: dict[str, int]  # raw field text → distinct field id (-1: normalises to nothing)
    title_part: np.ndarray  # int32: each doc's title's field id (-1: no title)
    lone_docs: dict[int, np.ndarray]  # token id of a one-unit segment → the docs having it (int32, ascending)


def _fields(docs: Sequence[Doc]) -> _Fields:
    vocab: dict[str, int] = {}
    by_raw: dict[str, int] = {}  # raw field text → distinct field id (-1: normalises to nothing)
    by_norm: dict[str, int] = {}
    parts: list[str] = []
    part_tokens = array("i")
    part_len = array("i")
    doc_parts = array("i")
    doc_ptr = array("q", [0])
    doc_len = array("q")
    empty_docs: list[int] = []
    title_part = array("i")
    part_lone: list[tuple[int, ...]] = []  # each distinct field's one-unit segments, as token ids
    lone_docs: dict[int, list[int]] = {}
    for n, doc in enumerate(docs):
        length = 0
        for raw in doc.index_parts():
            pid = by_raw.get(raw)
            if pid is None:
                norm = normalize_field(raw)
                if not norm:
                    pid = -1
                else:
                    pid = by_norm.get(norm)
                    if pid is None:
                        pid = by_norm[norm] = len(parts)
                        parts.append(norm)
                        toks = char_tokens(norm)
                        for tok in toks:
                            tid = vocab.get(tok)
                            if tid is None:
                                tid = vocab[tok] = len(vocab)
                            part_tokens.append(tid)
                        part_len.append(len(toks))
                        part_lone.append(_lone_units(norm, vocab))
                by_raw[raw] = pid
            if pid >= 0:
                doc_parts.append(pid)
                length += part_len[pid]
                for tid in part_lone[pid]:
                    got = lone_docs.setdefault(tid, [])
                    if not got or got[-1] != n:
                        got.append(n)
        title_part.append(by_raw.get(doc.title, -1) if doc.title else -1)
        doc_ptr.append(len(doc_parts))
        if length == 0:
            vocab.setdefault("", len(vocab))
            empty_docs.append(n)
            length = 1
        doc_len.append(length)
    vocab.setdefault("", len(vocab))
    return _Fields(
        parts=parts,
        part_tokens=part_tokens,
        part_len=part_len,
        doc_parts=np.frombuffer(doc_parts, dtype=np.int32),
        doc_ptr=np.frombuffer(doc_ptr, dtype=np.int64),
        doc_len=doc_len,
        empty_docs=empty_docs,
        vocab=vocab,
        by_raw=by_raw,
        title_part=np.frombuffer(title_part, dtype=np.int32),
        lone_docs={tid: np.asarray(got, dtype=np.int32) for tid, got in lone_docs.items()},
    )


def _lone_units(norm: str, vocab: dict[str, int]) -> tuple[int, ...]:
    """Token ids of the one-unit segments of a normalised field (``bigrams`` keeps those units)."""
    return tuple(vocab[seg] for seg in norm.split(" ") if len(seg) == 1 or (seg and _ASCII_UNIT.fullmatch(seg)))


class _TermCounts:
    """Each doc's (token, count) pairs, produced a chunk of docs at a time (bounded temporary memory)."""

    def __init__(self, f: _Fields, n_docs: int) -> None:
        self.n_docs = n_docs
        self.n_vocab = np.int64(len(f.vocab))
        self.empty_docs = np.asarray(f.empty_docs, dtype=np.int64)
        self.empty_token = f.vocab[""]
        n_parts = len(f.parts)
        self.part_tokens = np.frombuffer(f.part_tokens, dtype=np.int32)  # a view, no copy
        self.part_len = np.frombuffer(f.part_len, dtype=np.int32).astype(np.int64)
        self.part_start = np.zeros(n_parts + 1, dtype=np.int64)
        np.cumsum(self.part_len, out=self.part_start[1:])
        # each doc's distinct fields with how many times it repeats them (the title three times)
        width = np.int64(max(n_parts, 1))
        pair_doc = np.repeat(np.arange(n_docs, dtype=np.int64), np.diff(f.doc_ptr))
        pkey, mult = np.unique(pair_doc * width + f.doc_parts, return_counts=True)
        del pair_doc
        self.p_doc = (pkey // width).astype(np.int32)
        self.p_part = (pkey % width).astype(np.int32)
        self.p_mult = mult.astype(np.int32)
        del pkey, mult
        self.bounds = [*range(0, n_docs, _CHUNK_DOCS), n_docs]
        self.p_first = np.searchsorted(self.p_doc, np.asarray(self.bounds, dtype=np.int64))

    def chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(doc int64, token int32, count int32) per chunk of docs, sorted by doc then token."""
        n_vocab = self.n_vocab
        for c in range(len(self.bounds) - 1):
            lo, hi = int(self.p_first[c]), int(self.p_first[c + 1])
            part = self.p_part[lo:hi]
            lens = self.part_len[part]
            total = int(lens.sum())
            offsets = np.zeros(len(part), dtype=np.int64)
            np.cumsum(lens[:-1], out=offsets[1:])
            gather = np.repeat(self.part_start[part] - offsets, lens) + np.arange(total, dtype=np.int64)
            key = np.repeat(self.p_doc[lo:hi].astype(np.int64), lens) * n_vocab + self.part_tokens[gather]
            cnt = np.repeat(self.p_mult[lo:hi], lens)
            del gather
            empty = self.empty_docs[(self.empty_docs >= self.bounds[c]) & (self.empty_docs < self.bounds[c + 1])]
            if len(empty):  # a doc without tokens is indexed with the "" token once, as bm25s does
                key = np.concatenate([key, empty * n_vocab + self.empty_token])
                cnt = np.concatenate([cnt, np.ones(len(empty), dtype=np.int32)])
            if not len(key):
                continue
            order = np.argsort(key, kind="stable")
            key = key[order]
            cnt = cnt[order]
            del order
            starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
            key = key[starts]
            yield key // n_vocab, (key % n_vocab).astype(np.int32), np.add.reduceat(cnt, starts).astype(np.int32)


def _bm25(f: _Fields, n_docs: int) -> tuple[bm25s.BM25, np.ndarray]:
    """The bm25s model and the token document frequencies, computed as ``BM25.index`` would.

    Two passes over the docs, a chunk at a time: document frequencies first (for the IDF), then the
    scores, written straight into their places in the CSC arrays (by token, then by doc).
    """
    n_vocab = len(f.vocab)
    counts = _TermCounts(f, n_docs)
    df = np.zeros(n_vocab, dtype=np.int64)
    for _, tok, _ in counts.chunks():
        df += np.bincount(tok, minlength=n_vocab)
    # bm25s: idf = log(1 + (N - df + 0.5) / (df + 0.5)) in Python floats, stored as float32
    idf = np.zeros(n_vocab, dtype=np.float32)
    for tid, d in enumerate(df.tolist()):
        if d:
            idf[tid] = math.log(1 + (n_docs - d + 0.5) / (d + 0.5))
    # bm25s: tf / (k1 * ((1 - b) + b * len / avg_len) + tf), in float64 (numpy 2 promotion), stored as float32
    doc_len = np.frombuffer(f.doc_len, dtype=np.int64)
    avg_len = doc_len.mean() if n_docs else np.float64(0.0)
    norm = K1 * ((1 - B) + B * doc_len.astype(np.float64) / avg_len)
    indptr = np.zeros(n_vocab + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    nnz = int(indptr[-1])
    data = np.zeros(nnz, dtype=np.float32)
    indices = np.zeros(nnz, dtype=np.int32)
    heads = indptr[:-1].copy()  # next free place of each token's column
    for doc, tok, cnt in counts.chunks():
        tf = cnt.astype(np.float64)
        score = (idf[tok].astype(np.float64) * (tf / (norm[doc] + tf))).astype(np.float32)
        del tf
        order = np.argsort(tok, kind="stable")  # by token, docs ascending within a token
        tok_sorted = tok[order]
        group_start = np.flatnonzero(np.concatenate(([True], tok_sorted[1:] != tok_sorted[:-1])))
        group_size = np.diff(np.append(group_start, len(order)))
        rank = np.arange(len(order), dtype=np.int64) - np.repeat(group_start, group_size)
        place = heads[tok_sorted] + rank
        data[place] = score[order]
        indices[place] = doc[order]
        heads += np.bincount(tok, minlength=n_vocab)
    bm25 = bm25s.BM25(k1=K1, b=B)
    bm25.scores = {"data": data, "indices": indices, "indptr": indptr, "num_docs": n_docs}
    bm25.vocab_dict = f.vocab
    bm25.unique_token_ids_set = set(f.vocab.values())
    bm25.nonoccurrence_array = None
    return bm25, df.astype(np.int32)


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
        f = _fields(docs)
        bm25, df = _bm25(f, len(docs))
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
            if len(gram) == 1 or _ASCII_UNIT.fullmatch(gram):
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
