"""The per-question rerank features over the candidate docs, in numpy (see ``rank.score_candidates``):
name coverage and ``key``, the closest Q&A question, the intent fit, and each content word's coverage.
"""

from __future__ import annotations

import numpy as np

from content.matcher.documents import KIND_CATALOG, KIND_VILLAGE
from content.matcher.query import Intent
from content.matcher.tunables import Weights
from content.matcher.views import Views


def ranges(ptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
    at_keys, key_owner = ranges(views.doc_key_ptr, docs.astype(np.int64))
    doc_keys = views.doc_keys[at_keys]
    at_big, big_owner = ranges(views.key_big_ptr, doc_keys.astype(np.int64))
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
        term = np.where(has, term + intent.weight * w.intent_fit, term - intent.weight * w.intent_fit)
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
