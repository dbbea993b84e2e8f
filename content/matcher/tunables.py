"""Every weight and threshold of the matcher, in one place.

The quality sets (bench/matcher_quality.py, tests/content) guard the rankings: change a value here,
run the bench, and keep the change only when the tuned sets hold and nothing regresses.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- passages (passages.py): which passage of the chosen document is shown
PASSAGE_TOPIC = 0.45  # weight of the question's focus words covered by a passage
PASSAGE_FACET = 0.55  # weight of the passage speaking to what is asked (amount, date…)
FACET_HEAD = 0.5  # a passage's question asks the same…
HEAD_ASKS = 0.6  # …with one of the facet's question cues (1.0 from three on)
HEAD_ASKS_MORE = 0.2
HEAD_SPEAKS = 0.4  # …or has one of its passage cues
HEAD_ELSEWHERE = 0.6  # …keeping this share of that credit when its question names none of the focus
FACET_VALUE = 0.35  # the facet's value (an amount, a date, a phone) is in the passage's text
FACET_TEXT = 0.15  # the facet's passage cues are in its text
OTHER_FACETS = 0.25  # share of the other facets' mean in a passage's facet match
PASSAGE_HEAD = 0.5  # weight of the passage's question asking what the question asks (weighted Dice)
PASSAGE_MARKS = 0.2  # weight of the question's numbers and letters (90岁, D级) found in a passage
PASSAGE_MATTER = 0.1  # with no focus word: weight of all the question's words covered by a passage
PASSAGE_QA_BEST = 0.05  # the Q&A question closest to the whole question (ties)
PASSAGE_VALUE_FACETS = frozenset({"phone"})  # when some passage holds the value asked…
PASSAGE_NO_VALUE = 0.6  # …the score factor of a passage that holds none
SHORT_PASSAGE = 200  # a first passage shorter than this (characters) may bring a second one…
SECOND_FACET = 0.3  # …that speaks to the facet at least this well…
SECOND_RATIO = 0.5  # …and scores at least this share of the first
MORE_PASSAGES = 2  # passages after the first, while those shown are shorter than SHORT_PASSAGE
LINKED_FACET = 0.5  # a linked interpretation's passage answers for an element-only catalog item from this facet match
LINKED_VALUE_TOPIC = 0.5  # …or from holding the value asked while covering this share of the focus
LINKED_WHOLE_TOPIC = 0.99  # …or covers all the focus, when the question asks no value (whether, who)
REDACTED_FOCUS = 3  # a question naming this many things beyond a redacted document's matter…
REDACTED_TOPIC = 0.3  # …of which no published passage says this share asks what was removed
BEYOND_FACETS = frozenset({"phone"})  # asked of a catalog item, a linked interpretation answers (no field holds it)
ROW_INTENTS = frozenset({"roster", "statistics", "progress", "spending"})  # asked of a catalog item's own fields

# --- village rows (service.py)
VILLAGE_ROW_POOL = 5  # a bound villager's own row among this many leading candidates…
VILLAGE_ROW_COVER = 0.45  # …covering at least this share of the best candidate's coverage (or its item does)…
VILLAGE_ROW_KEY = 0.5  # …and named by the question this well (a row without a matching item) comes first


# --- ranking (rank.py): the rerank features' weights
@dataclass(frozen=True)
class Weights:
    """The rerank features' weights (and bonuses) in a candidate's score."""

    cover: float = 0.30
    cover_key: float = 0.10
    key: float = 0.15
    qa: float = 0.10
    fuzzy: float = 0.05
    bm25: float = 0.10
    disc: float = 0.20
    intent: float = 0.10
    prefer: float = 0.25  # share of an intent's weight for the preferred kind of document
    listing: float = 0.04  # a published list or result, for a question that asks no list or result
    interp_qa_bonus: float = 0.0
    disclosure_bonus: float = 0.08
    village_bonus: float = 0.12
    abolished_penalty: float = 0.25
    facet_value: float = 0.2  # an interpretation holding the value asked (VALUE_FACETS), times its relative coverage
    value_topic: float = 0.35  # …plus this times the share of the question's words its passages holding the value have
    value_topic_named: float = 0.1  # the same for an amount or a date asked (NAMED_VALUE_FACETS), which fields may hold
    oov: float = 0.35  # weight of a content word no doc has, relative to a known one
    disc_pool: int = 12  # candidates (by first-pass score) among which words are told apart
    disc_covered: float = 0.5  # a word counts as covered by a pool candidate from this coverage
    intent_fit: float = 0.5  # share of an intent's weight gained by a fitting item (lost by one that does not)
    interp_qa_disclosure: float = 0.3  # share of ``interp_qa_bonus`` for a question about publishing
    disclosure_catalog: float = 0.5  # share of ``disclosure_bonus`` for a catalog item (a village row: all)
    village_own: float = 1.5  # ``village_bonus`` factor when the question says "our village"


BODY_COVER = 0.8  # a word no searched field has, found in an interpretation's body, counts this much…
BODY_COVER_KNOWN = 0.3  # …and a known word found only there this much
VALUE_FACETS = frozenset({"phone"})  # facets whose value only an interpretation's text holds
NAMED_VALUE_FACETS = frozenset({"amount", "date"})  # facets whose value a passage naming the question's words holds

# --- confidence and abstention (rank.py, service.py)
OVERRULE_COVER = 0.4  # a doc covering this share of the content words, and…
OVERRULE_CUE = 1.0  # …this share of each chit-chat cue's bigrams, overrules a weak chit-chat cue
KNOWN_FLOOR = 0.5  # below this share of known content-word mass, confidence shrinks
HEAD_FLOOR = 0.5  # a short question whose most distinctive word no doc knows…
HEAD_FACTOR = 0.5  # …has its confidence shrunk by this factor
SHORT_WORDS = 2  # a short question has at most this many content words of two or more characters
ANSWER_THRESHOLD = 0.30  # confidence below this: abstain…
RESCUE_TOPIC = 1.0  # …unless (above SUGGEST_THRESHOLD) a passage says this share of the focus and the value asked
SUGGEST_THRESHOLD = 0.18  # confidence above this: offer as "您是不是想问"
CANDIDATES = 80  # BM25 candidates reranked per question
FOCUS_GAP = 2  # in "X的Y", at most this many characters (a stopword: 那个) between 的 and the head Y
FOCUS_SHARED = (
    2  # a facet-less question sharing at most this many words with the answer may be declined on its last word
)
PHRASE_MORE = 2  # the head of "X的Y" with this many characters after it, said as written in a passage, is covered
FOCUS_COMMON = 4000  # a head whose general-dictionary frequency is above this is grammar (出来), not a topic…
FOCUS_COMMON_CHAR = 20000  # …or, for one character, above this (人, 事; not 猫, 树)

# --- question words (query.py)
CONTEXT_WEIGHT = 0.3  # weight factor of a word that says where the villager is (村里, 镇上)
SINGLE_CHAR_WEIGHT = 0.35  # weight factor of a one-character content word (its IDF)
