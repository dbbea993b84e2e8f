"""The reply to an answered question: which document speaks, with which passage, and what is related.

- An interpretation answers with the passage that holds the fact asked (``passages.choose``).
- A catalog item answers with its fields when the question asks where or when it is published
  (公开渠道, 公开时限) or asks nothing in particular. When it asks for a fact the item only names as an
  element (补贴标准, 申请材料, 咨询电话), an interpretation linked to the item whose passage holds that
  fact answers instead, and the item stays in the reply as "相关".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from content.matcher import reply as replies
from content.matcher import tunables as T
from content.matcher.documents import KIND_CATALOG, KIND_INTERPRETATION, Doc
from content.matcher.passages import Choice, choose, focus, rank_passages
from content.matcher.query import Query
from content.matcher.rank import Scored

PUBLISH = "publish"
DATE = "date"


@dataclass(frozen=True)
class Answer:
    text: str
    shown: list[tuple[Doc, float]]  # the results listed, best first, with their scores


def linked_interpretations(docs: Sequence[Doc]) -> dict[str, tuple[int, ...]]:
    """Catalog code → the current, showable interpretations that name it in their ``items``."""
    out: dict[str, list[int]] = {}
    for n, doc in enumerate(docs):
        if doc.kind == KIND_INTERPRETATION and doc.body_showable and not doc.abolished:
            for code in doc.items:
                out.setdefault(code, []).append(n)
    return {code: tuple(ns) for code, ns in out.items()}


def asks_beyond_fields(query: Query, item: Doc) -> bool:
    """The question asks a fact the catalog item only names as an element (补贴标准, 咨询电话, 申请材料),
    or asks of an element two of its words name (良种蔗能不能加价 of 良种蔗加价).

    Not when it asks where or when the item is published, or asks for a published list, count or
    result (名单, 发了多少人): the item's own fields answer those.
    """
    facets = query.facets
    if not facets or any(f.name == PUBLISH for f in facets):
        return False
    if any(i.name in T.ROW_INTENTS for i in query.intents):
        return False
    if any(f.name == DATE for f in facets):
        return True  # an item's 公开时限 says when it is published, not when the money comes
    if any(f.name in T.BEYOND_FACETS for f in facets):
        return True  # no field of an item holds a phone number
    if any(c in element for f in facets for c in (*f.cues, *f.passage_cues) for element in item.elements):
        return True
    words = [u.word for u in query.units if len(u.word) >= 2]
    return any(sum(w in element for w in words) >= 2 for element in item.elements)


def _fits(query: Query, choice: Choice, focused: bool) -> bool:
    """A linked interpretation's passage answers for the item: it speaks to the facet
    (``LINKED_FACET``) and to the question's focus when it has one; or it holds the value asked (3个月,
    300元) and covers most of the focus (``LINKED_VALUE_TOPIC``)."""
    if choice.facet >= T.LINKED_FACET and (choice.topic > 0 or not focused):
        return True
    if choice.topic >= T.LINKED_WHOLE_TOPIC and all(f.value is None for f in query.facets):
        return True  # 良种蔗能不能加价: the passage says all the question names, and no value is asked
    holds = any(f.value is not None and f.value.search(choice.passage.text) for f in query.facets)
    return holds and choice.topic >= T.LINKED_VALUE_TOPIC


def _linked_choice(
    docs: Sequence[Doc], linked: dict[str, tuple[int, ...]], query: Query, item: Doc
) -> tuple[Doc, Choice] | None:
    """The linked interpretation whose best passage speaks to the question's facets best, if one does well enough."""
    best: tuple[Doc, Choice] | None = None
    for n in linked.get(item.id, ()):
        interp = docs[n]
        ranked = rank_passages(query, interp, query.facets)
        # the passage must speak to the facet, and to the question's focus when it has one
        # (a focus of single characters, 新 of 新标准, is too little to require)
        focused = any(len(g) > 1 for alts, _ in focus(query, interp) for alt in alts for g in alt)
        fits = [c for c in ranked if _fits(query, c, focused)]
        if fits and (best is None or fits[0].score > best[1].score):
            best = (interp, fits[0])
    return best


def compose(
    docs: Sequence[Doc], linked: dict[str, tuple[int, ...]], query: Query, scored: list[Scored], top: int
) -> Answer:
    """The reply and the results listed for a question answered from ``scored`` (best first)."""
    best = scored[0]
    shown = [(s.doc, s.score) for s in scored[:top]]
    fit = None
    related = [s.doc for s in scored[1:3]]
    speaker, qa_best = best.doc, best.qa_best
    if best.doc.kind == KIND_CATALOG and asks_beyond_fields(query, best.doc):
        got = _linked_choice(docs, linked, query, best.doc)
        if got is not None:
            speaker, fit = got
            qa_best = -1
            others = [s for s in scored if s.doc is not speaker and s.doc is not best.doc]
            own = next((s.score for s in scored if s.doc is speaker), best.score)
            shown = [(speaker, own), (best.doc, best.score), *((s.doc, s.score) for s in others)][:top]
            related = [best.doc, *(s.doc for s in others[:1])]
    passages = choose(query, speaker, query.facets, qa_best) if speaker.kind == KIND_INTERPRETATION else []
    if fit is not None and fit.passage not in passages:
        passages = [fit.passage]  # the passage that made the linked interpretation answer
    fields = [f for facet in query.facets for f in facet.fields]
    text = replies.answer_reply(speaker, qa_best, related, passages, fields)
    return Answer(text, shown)
