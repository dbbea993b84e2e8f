"""Building the index's arrays from documents, fast (100k docs in seconds, not a minute).

A doc's index text is its fields joined by spaces (``Doc.index_parts``), and normalisation and
tokens never cross a space, so each distinct field is normalised and tokenised once (titles repeat
three times, elements and groups across thousands of docs). The BM25 matrix is then assembled with
numpy from the per-field token counts, with exactly the arithmetic of ``bm25s.BM25.index`` (same
float32 values, same vocabulary ids), so the candidates are the same as indexing the joined texts
with bm25s directly. The doc texts are not kept: a doc is a short list of ids into the shared
distinct fields.
"""

from __future__ import annotations

import math
import re
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import bm25s
import numpy as np

from content.matcher import normalize as _normalize
from content.matcher.documents import Doc
from content.matcher.normalize import char_tokens, normalize_doc

K1 = 1.2
B = 0.5
ASCII_UNIT = re.compile(r"[a-z0-9.%]+")  # a segment that is one unit (as ``normalize._units`` splits it)
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
class Fields:
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


def fields(docs: Sequence[Doc]) -> Fields:
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
    return Fields(
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
    return tuple(vocab[seg] for seg in norm.split(" ") if len(seg) == 1 or (seg and ASCII_UNIT.fullmatch(seg)))


class _TermCounts:
    """Each doc's (token, count) pairs, produced a chunk of docs at a time (bounded temporary memory)."""

    def __init__(self, f: Fields, n_docs: int) -> None:
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


def bm25_arrays(f: Fields, n_docs: int) -> tuple[bm25s.BM25, np.ndarray]:
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
