"""The question matcher: ``Matcher.ask(question) -> AskResult``, used by the CLI, the bot and the API.

The index is built once from the database (``Matcher.from_session``) and rebuilt only when the
content revision counter moves (``refresh_if_changed``), never on every request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from sqlalchemy.orm import Session

from content.matcher import reply as replies
from content.matcher import smalltalk
from content.matcher import tunables as T
from content.matcher.compose import compose, linked_interpretations
from content.matcher.coverage import Coverage
from content.matcher.documents import (
    KIND_CATALOG,
    KIND_INTERPRETATION,
    KIND_VILLAGE,
    Doc,
    load_documents,
    township_phones,
)
from content.matcher.focus import (
    elsewhere,
    named_household,
    those_households,
    uncovered_head,
    uncovered_topic,
    unknown_last_word,
)
from content.matcher.homophones import PinyinIndex
from content.matcher.index import Index
from content.matcher.lexicon import Lexicon
from content.matcher.normalize import bigrams
from content.matcher.passages import focus, passage_grams, rank_passages
from content.matcher.query import Analyzer, Query, base_tokenizer
from content.matcher.rank import (
    Scored,
    Weights,
    body_grams,
    confidence,
    overrules_offtopic,
    prepare,
    score_candidates,
)
from content.matcher.results import AskResult, ResultRef
from content.repository import content_revision

CANDIDATES = T.CANDIDATES
ANSWER_THRESHOLD = T.ANSWER_THRESHOLD
SUGGEST_THRESHOLD = T.SUGGEST_THRESHOLD


def _vocabulary_words(index: Index, lexicon_words: set[str]) -> set[str]:
    """Words for homophone repair and pinyin spelling: names, elements, keywords, questions, lexicon.

    The fields are the index's own normalised fields (each distinct one cut once).
    """
    words = set(lexicon_words)
    seen: set[str] = set()
    cut: set[str] = set()
    tk = base_tokenizer()
    for doc in index.docs:
        for text in (doc.title, doc.group, *doc.elements, *doc.keywords, *doc.questions):
            if text in seen:
                continue
            seen.add(text)
            norm = index.normalized(text)
            if norm in cut:
                continue
            cut.add(norm)
            if len(norm) <= 8:
                words.add(norm)
            words.update(w for w in tk.lcut(norm, HMM=False) if len(w) >= 2)
    return words


@dataclass
class Matcher:
    index: Index
    analyzer: Analyzer
    phones: dict[str, str] = field(default_factory=dict)
    village_townships: dict[str, str] = field(default_factory=dict)
    revision: int = -1
    weights: Weights = field(default_factory=Weights)
    answer_threshold: float = ANSWER_THRESHOLD
    linked: dict[str, tuple[int, ...]] = field(default_factory=dict)  # catalog code → linked interpretations
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _places: list[str] = field(default_factory=list)  # townships and publishers, joined when first needed
    _people: list[str] = field(default_factory=list)  # the village rows' responsible persons, likewise
    _bodies: list[frozenset[str]] = field(default_factory=list)  # the interpretations' body bigrams, likewise
    answers_by_normalized_question: ClassVar[bool] = True
    """Its answers are a function of ``normalize(question)`` and the village: callers may cache by that."""

    # ------------------------------------------------------------------ building

    @classmethod
    def build(
        cls,
        docs: Sequence[Doc],
        village_docs: Sequence[Doc] = (),
        *,
        phones: dict[str, str] | None = None,
        lexicon: Lexicon | None = None,
        revision: int = -1,
    ) -> Matcher:
        all_docs = [*docs, *village_docs]
        lex = (lexicon or Lexicon.load()).with_keywords(k for d in all_docs for k in d.keywords)
        index = Index.build(all_docs)
        prepare(index)  # the rerank views of every doc, so no question pays for them
        for doc in index.docs:
            if doc.kind == KIND_INTERPRETATION:
                body_grams(doc)  # an interpretation's body and passages, read by the ranking and the focus rules
                passage_grams(doc)
        pinyin = PinyinIndex(_vocabulary_words(index, lex.vocabulary()))
        analyzer = Analyzer(index, lex, pinyin)
        towns = {d.village: d.township for d in village_docs if d.village and d.township}
        return cls(
            index=index,
            analyzer=analyzer,
            phones=dict(phones or {}),
            village_townships=towns,
            revision=revision,
            linked=linked_interpretations(index.docs),
        )

    @classmethod
    def from_session(cls, session: Session, village_docs: Sequence[Doc] = ()) -> Matcher:
        return cls.build(
            load_documents(session),
            village_docs,
            phones=township_phones(session),
            revision=content_revision(session),
        )

    def refresh_if_changed(self, session: Session, village_docs: Sequence[Doc] = ()) -> Matcher:
        """This matcher, or a rebuilt one when the content revision has moved (one cheap query)."""
        if content_revision(session) == self.revision:
            return self
        return Matcher.from_session(session, village_docs)

    # ------------------------------------------------------------------ asking

    def phone_for(self, township: str | None) -> str:
        if township and self.phones.get(township):
            return self.phones[township]
        phones = [p for p in self.phones.values() if p]
        return phones[0] if len(set(phones)) == 1 else ""

    def ask(self, question: str, village: str | None = None, township: str | None = None, top: int = 3) -> AskResult:
        started = time.perf_counter()
        village = village.strip().upper() if village else None
        if village and not township:
            township = self.village_townships.get(village)
        query = self.analyzer.analyze(question)
        phone = self.phone_for(township)
        kind = smalltalk.classify(query.normalized)
        if kind is not None:
            return AskResult(False, smalltalk.REPLIES[kind], (), _ms(started), query.normalized)
        chat = smalltalk.offtopic_match(query.normalized)  # chit-chat: weather, prices, repairs…
        if chat is not None and chat.strength == smalltalk.STRONG:
            return AskResult(False, replies.abstain_reply(phone, []), (), _ms(started), query.normalized)
        if elsewhere(query.text, self._cut, self._ours) is not None:
            # "上海那边…": the question asks about another place than the townships we hold
            return AskResult(False, replies.abstain_reply(phone, []), (), _ms(started), query.normalized)
        if those_households(query.text) is not None or (
            "家" in query.text and named_household(query.text, self._cut, self._a_name) is not None
        ):
            # "王福贵家的坝地补了多少": another household's affairs, which no public document discloses
            return AskResult(False, replies.abstain_reply(phone, []), (), _ms(started), query.normalized)
        mask = self.index.mask(township, village)
        cands = self.index.candidates(query.tokens, mask, CANDIDATES)
        scored = _dedupe(score_candidates(self.index, query, cands, self.weights))
        scored = _abolished_last(scored)
        top = max(1, top)
        if not scored:
            return AskResult(False, replies.abstain_reply(phone, []), (), _ms(started), query.normalized)
        best = scored[0]
        cues = ((chat.cue,) if chat else ()) + query.offtopic_cues
        if cues and not overrules_offtopic(self.index, query, best, cues):
            # a weak chit-chat cue stands unless a document covers the question well
            return AskResult(False, replies.abstain_reply(phone, []), (), _ms(started), query.normalized)
        conf = confidence(best)
        answered = conf >= self.answer_threshold or (conf >= SUGGEST_THRESHOLD and self._passage_holds(query, best))
        if answered and self._misses_focus(query, best):
            # "微耕机的机油…": the document covers a word of the question, not what it is about
            return AskResult(False, replies.abstain_reply(phone, []), (), _ms(started), query.normalized)
        if answered and best.doc.redacted and self._asks_removed_part(query, best.doc):
            # "提留款先还哪笔账": none of the published passages says it; it was in the removed part
            return AskResult(False, replies.redacted_reply(best.doc, phone), (), _ms(started), query.normalized)
        if answered and village and query.village:
            scored = _own_rows_first(scored)  # (answered or not is judged on the best candidate)
        if answered:
            answer = compose(self.index.docs, self.linked, query, scored, top)
            text, shown = answer.text, answer.shown
        else:
            shown = [(s.doc, s.score) for s in scored[:top] if confidence(s) >= SUGGEST_THRESHOLD]
            text = replies.abstain_reply(phone, [doc for doc, _ in shown])
        results = tuple(ResultRef(doc.kind, doc.id, doc.title, score) for doc, score in shown)
        return AskResult(answered, text, results, _ms(started), query.normalized)

    def _cut(self, text: str) -> list[str]:
        return list(self.analyzer.tokenizer.lcut(text, HMM=False))

    def _known(self, word: str) -> bool:
        """Some document of the index has one of the word's bigrams, or the word names a place of its
        own: a township or a publisher (云岭县民政局)."""
        vocab = self.index.vocab
        if any(b in vocab for b in bigrams(word)):
            return True
        if not self._places:
            names = {d.township or "" for d in self.index.docs} | {p for d in self.index.docs for p in d.publishers}
            self._places.append(" ".join(sorted(names)))
        return word in self._places[0]

    def _ours(self, word: str) -> bool:
        """``_known``, or an interpretation's body says it: 新建 (also a place name) in 新建蚕房."""
        if self._known(word):
            return True
        grams = bigrams(word)
        if not self._bodies:
            self._bodies.extend(b for d in self.index.docs if d.kind == KIND_INTERPRETATION and (b := body_grams(d)))
        return bool(grams) and any(grams <= body for body in self._bodies)

    def _a_name(self, word: str) -> bool:
        """A word of the dictionary, of the index, or a person the documents name (a village's 责任人)."""
        if self.analyzer.tokenizer.FREQ.get(word, 0) > 0 or self._known(word):
            return True
        if not self._people:
            self._people.append(" ".join(sorted({d.responsible for d in self.index.docs if d.responsible})))
        return word in self._people[0]

    def _answering(self, best: Scored) -> list[int]:
        """The answering document and, for a catalog item, the interpretations linked to it."""
        linked = self.linked.get(best.doc.id, ()) if best.doc.kind == KIND_CATALOG else ()
        return [best.doc_index, *linked]

    def _asks_removed_part(self, query: Query, doc: Doc) -> bool:
        """The question names several things beyond the document's matter (``REDACTED_FOCUS``) and
        its best published passage says little of them (``REDACTED_TOPIC``)."""
        if len(focus(query, doc)) < T.REDACTED_FOCUS:
            return False
        ranked = rank_passages(query, doc, query.facets)
        return not ranked or max(c.topic for c in ranked) < T.REDACTED_TOPIC

    def _passage_holds(self, query: Query, best: Scored) -> bool:
        """One passage of the best document names every focus word of a question that asks a value,
        and holds such a value (县应急管理局电话是好多: the office and its number, in a body the
        ranking does not index). Only for a best document below the answer threshold."""
        valued = [f for f in query.facets if f.value is not None]
        grams = focus(query, best.doc)
        if not valued or not grams:
            return False
        return any(
            c.topic >= T.RESCUE_TOPIC and any(f.value.search(c.passage.text) for f in valued if f.value)
            for c in rank_passages(query, best.doc, query.facets)
        )

    def _misses_focus(self, query: Query, best: Scored) -> bool:
        """The best document covers a word of the question, not what it asks (see ``focus``, and
        ``coverage`` for what the document and its linked interpretations count as saying)."""
        cov = Coverage(self.index, self._answering(best), query)
        freq = self.analyzer.tokenizer.FREQ

        def common(word: str) -> bool:
            return freq.get(word, 0) > (T.FOCUS_COMMON if len(word) > 1 else T.FOCUS_COMMON_CHAR)

        if uncovered_topic(query, cov.touches_or_says):
            return True
        head = uncovered_head(query, cov.covers, common, cov.touches) if "的" in query.text else None
        if head is not None and not cov.says_phrase(head):
            return True
        word = unknown_last_word(query, cov.covers, common)
        return word is not None and not cov.says_together(word)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def _dedupe(scored: list[Scored]) -> list[Scored]:
    """One result per (kind, id, title): the same matter published by several townships is one answer."""
    seen: set[tuple[str, str, str]] = set()
    out: list[Scored] = []
    for s in scored:
        key = (s.doc.kind, s.doc.id, s.doc.title)
        if key in seen:
            continue
        seen.add(key)
        out.append(s)
    return out


def _own_rows_first(scored: list[Scored]) -> list[Scored]:
    """A bound villager asking about "our village": their own list row first, when one matches.

    A row matches when it is the village's row for a catalog item among the leading candidates that
    covers the question about as well as the best one (``VILLAGE_ROW_COVER`` of its coverage), or
    when it covers the question that well itself and the question names it (``key``).
    """
    if not scored or scored[0].doc.kind == KIND_VILLAGE:
        return scored
    floor = T.VILLAGE_ROW_COVER * scored[0].cover
    lead = scored[: T.VILLAGE_ROW_POOL]
    rows = [(n, s) for n, s in enumerate(scored) if s.doc.kind == KIND_VILLAGE]
    codes = [s.doc.id for s in lead if s.doc.kind == KIND_CATALOG and s.cover >= floor]
    pick = next((n for code in codes for n, row in rows if code in row.doc.items), None)
    if pick is None:
        pick = next(
            (n for n, row in rows if n < T.VILLAGE_ROW_POOL and row.cover >= floor and row.key >= T.VILLAGE_ROW_KEY),
            None,
        )
    if pick is None:
        return scored
    return [scored[pick], *scored[:pick], *scored[pick + 1 :]]


def _abolished_last(scored: list[Scored]) -> list[Scored]:
    """An abolished interpretation never ranks above a current one."""
    current = [s for s in scored if not s.doc.abolished]
    abolished = [s for s in scored if s.doc.abolished]
    if not abolished:
        return scored
    last_interp = max((n for n, s in enumerate(current) if s.doc.kind == KIND_INTERPRETATION), default=-1)
    if last_interp < 0:
        return scored
    return current[: last_interp + 1] + abolished + current[last_interp + 1 :]


__all__ = ["KIND_VILLAGE", "AskResult", "Matcher", "ResultRef"]
