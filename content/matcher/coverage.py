"""What the answering documents say, for the focus rules (:mod:`content.matcher.focus`).

The answering documents are the best document and, for a catalog item, the interpretations linked
to it. They *cover* a word of the question when their searched fields hold all of one of its
alternatives' bigrams, and *touch* it when they hold half. Beyond the searched fields:

1. asked a value only a body holds (a phone number), the passages holding such a value count: the
   office they name (镇林业站 0743-8621073) is what the question is about;
2. asked an amount or a date, a topic word said in a passage holding one counts too (汛期 beside
   4月1日至9月30日);
3. the head of "X的Y" is their matter when one passage says the question's words from the head
   on as written (:meth:`Coverage.says_phrase`);
4. a last word is their matter when one passage says it together with another word of the question
   they cover (:meth:`Coverage.says_together`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from content.matcher import tunables as T
from content.matcher.facets import values_asked
from content.matcher.index import Index
from content.matcher.normalize import bigrams
from content.matcher.passages import doc_passages, passage_grams, value_grams
from content.matcher.query import Query, Unit

# 卖掉, 用完, 拆光: the complement says the action is done, not what it is done to
_RESULT_COMPLEMENTS = frozenset("掉完光")
# 迁过去, 租出去: a directional complement says where the action goes, not what it is
_DIRECTIONS = frozenset(
    ["过去", "过来", "出去", "出来", "进去", "进来", "下来", "下去", "上来", "上去", "回来", "回去"]
)


@dataclass
class Coverage:
    """The answering documents of one question (``docs``: their index positions)."""

    index: Index
    docs: list[int]
    query: Query

    @cached_property
    def _valued(self) -> tuple[re.Pattern[str], ...]:
        return values_asked(self.query.facets, T.VALUE_FACETS)

    @cached_property
    def _asked(self) -> tuple[re.Pattern[str], ...]:
        return values_asked(self.query.facets, T.NAMED_VALUE_FACETS)

    @cached_property
    def grams(self) -> frozenset[str]:
        """The bigrams of the searched fields, and (step 1) of the passages holding a value asked."""
        grams: set[str] = set().union(*(self.index.doc_bigrams(n) for n in self.docs))
        for n in self.docs if self._valued else ():
            grams |= value_grams(self.index.docs[n], self._valued)
        return frozenset(grams)

    @cached_property
    def _said(self) -> frozenset[str]:
        """Step 2: the bigrams of the passages holding the amount or date asked."""
        return frozenset().union(*(value_grams(self.index.docs[n], self._asked) for n in self.docs))

    def covers(self, unit: Unit) -> bool:
        return any(alt and alt <= self.grams for alt in unit.alts)

    def touches(self, unit: Unit) -> bool:
        return any(alt and 2 * len(alt & self.grams) >= len(alt) for alt in unit.alts)

    def touches_or_says(self, unit: Unit) -> bool:
        """:meth:`touches`, or step 2."""
        if self.touches(unit):
            return True
        return bool(self._asked) and any(alt and alt <= self._said for alt in unit.alts)

    def says_phrase(self, head: str) -> bool:
        """Step 3: a passage says the question's words from ``head`` on as written, at least
        ``PHRASE_MORE`` characters past it (照料护理补贴 in "全护理的照料护理补贴一个月多少")."""
        text = self.query.text
        at = text.find(head)
        phrase = text[at:].split(" ", 1)[0][: len(head) + T.PHRASE_MORE]
        if at < 0 or len(phrase) < len(head) + T.PHRASE_MORE:
            return False
        return any(phrase in p.norm for n in self.docs for p in doc_passages(self.index.docs[n]))

    def says_together(self, word: str) -> bool:
        """Step 4: one passage says ``word`` together with another word of the question the documents
        cover: 蓝色预警…停止出港 answers "台风蓝色预警的时候船还能不能出港". (Only for the last-word
        rule: the whole body mentions much in passing, and for the head of "X的Y" one passage naming
        both is still too loose.) A verb with a result complement stands for the verb: 卖掉 → 卖."""
        if len(word) == 2 and word[1] in _RESULT_COMPLEMENTS:
            word = word[0]
        elif len(word) >= 3 and word[-2:] in _DIRECTIONS:
            word = word[:-2]
        grams = bigrams(word)
        others = [u for u in self.query.units if u.word != word and len(u.word) >= 2 and self.covers(u)]
        if not grams or not others:
            return False
        for n in self.docs:
            doc = self.index.docs[n]
            for text, passage in zip(doc_passages(doc), passage_grams(doc), strict=True):
                says = word in text.norm if len(word) == 1 else grams <= passage  # 减 of 减免: no bigram
                if says and any(alt and alt <= passage for u in others for alt in u.alts):
                    return True
        return False
