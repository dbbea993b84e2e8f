"""Every weight and threshold of the matcher, in one place.

The quality sets (bench/matcher_quality.py, tests/content) guard the rankings: change a value here,
run the bench, and keep the change only when the tuned sets hold and nothing regresses.
"""

from __future__ import annotations

# --- passages (passages.py): which passage of the chosen document is shown
PASSAGE_TOPIC = 0.45  # weight of the question's focus words covered by a passage
PASSAGE_FACET = 0.55  # weight of the passage speaking to what is asked (amount, date…)
FACET_HEAD = 0.5  # a passage's question asks the same…
HEAD_ASKS = 0.6  # …with one of the facet's question cues (1.0 from three on)
HEAD_ASKS_MORE = 0.2
HEAD_SPEAKS = 0.4  # …or has one of its passage cues
FACET_VALUE = 0.35  # the facet's value (an amount, a date, a phone) is in the passage's text
FACET_TEXT = 0.15  # the facet's passage cues are in its text
OTHER_FACETS = 0.25  # share of the other facets' mean in a passage's facet match
PASSAGE_QA_BEST = 0.05  # the Q&A question closest to the whole question (ties)
SHORT_PASSAGE = 70  # a first passage shorter than this (characters) may bring a second one…
SECOND_FACET = 0.6  # …that speaks to the facet at least this well…
SECOND_RATIO = 0.7  # …and scores at least this share of the first
LINKED_FACET = 0.5  # a linked interpretation's passage answers for an element-only catalog item from this facet match
ROW_INTENTS = frozenset({"roster", "statistics", "progress", "spending"})  # asked of a catalog item's own fields

# --- village rows (service.py)
VILLAGE_ROW_POOL = 5  # a bound villager's own row among this many leading candidates…
VILLAGE_ROW_COVER = 0.45  # …covering at least this share of the best candidate's coverage (or its item does)…
VILLAGE_ROW_KEY = 0.5  # …and named by the question this well (a row without a matching item) comes first
