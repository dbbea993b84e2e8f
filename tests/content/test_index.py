"""The search index builds the same BM25 model as bm25s indexing the joined, normalised doc texts.

``Index.build`` normalises and tokenises each distinct field once and assembles the BM25 matrix
with numpy (see content/matcher/index.py); these tests compare it with the straightforward way.
"""

from __future__ import annotations

import random
from dataclasses import replace

import bm25s
import numpy as np
import pytest

from content.matcher import indexing
from content.matcher.documents import KIND_CATALOG, KIND_INTERPRETATION, KIND_VILLAGE, Doc
from content.matcher.index import Index
from content.matcher.normalize import bigrams, char_tokens, normalize, normalize_doc

WORDS = [
    "最低生活保障",
    "低保",
    "临时救助",
    "耕地地力保护补贴",
    "一年级",
    "新型农村合作医疗",
    "医保",
    "危房改造",
    "（2026年修订）",
    "ＡＢＣ全角",
    "办事指南",
    "那个",
    "三百元",
    "5.5亩",
    "公示",
    "名单",
    "嗯",
    "  ",
    "！！",
    "Wi-Fi",
]


def _docs(n: int, seed: int = 3) -> list[Doc]:
    rng = random.Random(seed)

    def phrase() -> str:
        return "".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))

    elements = [phrase() for _ in range(12)]
    docs: list[Doc] = []
    for i in range(n):
        kind = (KIND_CATALOG, KIND_INTERPRETATION, KIND_VILLAGE)[i % 3]
        n_questions = rng.randint(0, 2) if kind == KIND_INTERPRETATION else 0
        doc = Doc(
            kind=kind,
            id=f"D{i}",
            title=phrase(),
            township=None if kind == KIND_INTERPRETATION else f"镇{i % 4}",
            village=f"V{i % 5}" if kind == KIND_VILLAGE else None,
            domain=rng.choice(["社会救助", "", "农业"]),
            group=rng.choice(["低保", "补贴", ""]),
            elements=tuple(rng.sample(elements, 3)),
            keywords=tuple(phrase() for _ in range(rng.randint(0, 2))),
            questions=tuple(f"{phrase()}怎么办" for _ in range(n_questions)),
            channels=("公开栏",) if kind == KIND_VILLAGE else (),
        )
        docs.append(doc)
    docs.insert(5, Doc(kind=KIND_CATALOG, id="EMPTY1", title="！！", township="镇1"))  # nothing to index
    docs.insert(9, Doc(kind=KIND_CATALOG, id="EMPTY2", title="", township="镇2"))
    docs.append(replace(docs[0], id="DUP"))  # the same matter in another township
    return docs


def _reference(docs: list[Doc]) -> tuple[dict[str, int], list[str], bm25s.BM25]:
    """The index as first written: bm25s over each doc's normalised joined text."""
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
    bm25 = bm25s.BM25(k1=1.2, b=0.5)
    bm25.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
    return vocab, texts, bm25


@pytest.mark.parametrize("chunk", [3, 4096])
def test_index_equals_bm25s_over_the_joined_texts(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    monkeypatch.setattr(indexing, "_CHUNK_DOCS", chunk)  # several chunks, or one
    docs = _docs(200)
    idx = Index.build(docs)
    vocab, texts, ref = _reference(docs)
    assert list(idx.vocab.items()) == list(vocab.items())  # same ids, same order
    for name in ("data", "indices", "indptr"):
        got, want = idx.bm25.scores[name], ref.scores[name]
        assert got.dtype == want.dtype and np.array_equal(got, want), name
    assert idx.bm25.scores["num_docs"] == ref.scores["num_docs"] == len(docs)
    df = np.zeros(len(vocab), dtype=np.int32)
    for text in texts:
        row = char_tokens(text)
        if row:
            df[np.unique([vocab[t] for t in row])] += 1
        else:
            df[vocab[""]] += 1
    assert np.array_equal(idx.df, df)
    for i, text in enumerate(texts):
        assert idx.text(i) == text
        assert idx.doc_bigrams(i) == frozenset(bigrams(text))
        assert idx.title_text(i) == normalize_doc(docs[i].title)
    indptr, indices = idx.bm25.scores["indptr"], idx.bm25.scores["indices"]
    for tid in range(len(vocab)):  # has_grams searches a token's docs: they must be ascending
        assert np.all(np.diff(indices[indptr[tid] : indptr[tid + 1]]) > 0)
    for q in ("低保怎么申请", "耕地补贴发了没", "一年级 医保", "wi-fi", "完全无关"):
        ids = [vocab[t] for t in char_tokens(normalize(q)) if t in vocab]
        if ids:
            mask = idx.mask(None, None)
            assert np.array_equal(idx.bm25.get_scores_from_ids(ids, weight_mask=mask), ref.get_scores(ids) * mask)


def test_has_grams_reads_doc_bigrams_from_the_matrix() -> None:
    docs = _docs(150)
    docs.append(replace(docs[1], id="LONE", title="低 保 wifi 3.5 A"))  # one-unit segments
    idx = Index.build(docs)
    grams = sorted({g for i in range(idx.size) for g in idx.doc_bigrams(i)} | {"", "无关", "低", "wifi", "3.5", "x"})
    all_docs = np.arange(idx.size, dtype=np.int32)
    got = idx.has_grams(all_docs, grams)
    for i in range(idx.size):
        own = idx.doc_bigrams(i)
        assert got[i].tolist() == [g in own for g in grams], docs[i].id
    some = np.array([7, 3, idx.size - 1, 3], dtype=np.int32)  # any order, repeats
    assert np.array_equal(idx.has_grams(some, grams), got[some])
    assert idx.has_grams(np.zeros(0, dtype=np.int32), grams).shape == (0, len(grams))


def test_normalize_field_is_normalize_doc() -> None:
    rng = random.Random(5)
    pieces = [*WORDS, "低保", "就是", "说", "那", "个", "两", "万", "十", "亩", "豐", "丽", "︰", "\u9fa5", "\uf900"]
    texts = ["", *WORDS, *("".join(rng.choice(pieces) for _ in range(rng.randint(1, 5))) for _ in range(3000))]
    for text in texts:
        assert indexing.normalize_field(text) == normalize_doc(text), text
    idx = Index.build(_docs(60))
    for text in texts[:300]:
        assert idx.normalized(text) == normalize_doc(text), text


def test_mask_scopes_townships_and_villages() -> None:
    docs = _docs(60)
    idx = Index.build(docs)
    for township in (None, "镇1", "镇9"):
        for village in (None, "V1", "V9"):
            want = [
                (village is not None and d.village == village)
                if d.kind == KIND_VILLAGE
                else (township is None or d.township is None or d.township == township)
                for d in docs
            ]
            assert idx.mask(township, village).tolist() == [1.0 if w else 0.0 for w in want]


def test_empty_index() -> None:
    idx = Index.build([])
    assert idx.size == 0 and idx.vocab == {"": 0}
    assert idx.candidates(["低"], idx.mask(None, None), 5) == []
