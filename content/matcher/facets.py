"""Question facets: what a question asks about a matter (an amount, a date, how to apply, who
qualifies, where, a phone number, where it is published), read from ``content/data/facets.tsv``.

A facet picks the passage of the chosen document that holds the fact asked (``passages``): its
passage cues and value pattern say which Q&A pair, summary sentence or catalog field speaks to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from content.matcher.datafile import cell_words, read_tsv
from content.matcher.normalize import normalize_plain

FACETS_PATH = Path(__file__).resolve().parent.parent / "data" / "facets.tsv"
GENERAL = "general"


@dataclass(frozen=True)
class Facet:
    name: str
    cues: tuple[str, ...]  # in the question
    weak: frozenset[str]  # the cues that count only when no other facet has a strong one
    passage_cues: tuple[str, ...]  # in a passage that speaks to it
    value: re.Pattern[str] | None  # the value itself, in a passage's text
    fields: tuple[str, ...]  # the catalog item's (or village row's) fields that answer it, shown first


def values_asked(asked: Iterable[Facet], names: frozenset[str]) -> tuple[re.Pattern[str], ...]:
    """The value patterns of the facets asked among ``names`` (a phone number, an amount …)."""
    return tuple(f.value for f in asked if f.value is not None and f.name in names)


def _with_digits(cues: Iterable[str]) -> tuple[str, ...]:
    """The cues, each followed by its normalised form where that differs: questions are matched
    normalised (哪一天 reads 哪1天), passages' Q&A questions as written."""
    out: list[str] = []
    for cue in cues:
        out.append(cue)
        if (plain := normalize_plain(cue)) != cue:
            out.append(plain)
    return tuple(out)


@dataclass(frozen=True)
class Facets:
    version: str
    facets: tuple[Facet, ...]

    @classmethod
    def parse(cls, text: str) -> Facets:
        version, rows = read_tsv(text)
        out: list[Facet] = []
        for lineno, parts in rows:
            if len(parts) != 5:
                raise ValueError(f"facets line {lineno}: expected 5 tab-separated columns")
            name, cues, passage_cues, value, field = parts

            pattern = None if value == "-" else re.compile(value)
            asked = _with_digits(c.rstrip("?") for c in cell_words(cues))
            weak = frozenset(_with_digits(c.rstrip("?") for c in cell_words(cues) if c.endswith("?")))
            out.append(Facet(name, asked, weak, cell_words(passage_cues), pattern, cell_words(field)))
        if not version:
            raise ValueError("facets table has no '# version:' header line")
        return cls(version, tuple(out))

    @classmethod
    def load(cls, path: Path = FACETS_PATH) -> Facets:
        return cls.parse(path.read_text(encoding="utf-8"))

    def classify(self, text: str) -> tuple[Facet, ...]:
        """The facets the (normalised) text asks, in table order: those with a strong cue in it, or
        when there are none, those with a weak one."""
        hits = [(f, [c for c in f.cues if c in text]) for f in self.facets]
        strong = tuple(f for f, got in hits if any(c not in f.weak for c in got))
        return strong or tuple(f for f, got in hits if got)


# What makes a cue a question (几月, 多大, 哪个时候) rather than the name of a thing (罚, 材料, 电话)
_ASKING: tuple[str, ...] = ("多少", "好多", "几", "什么", "啥", "怎", "咋", "哪", "谁", "如何", "多久", "多长")
_ASKING += ("多大", "多远", "多高", "多深", "多宽", "好久")


@lru_cache(maxsize=1)
def asking_words() -> frozenset[str]:
    """The facets' question cues that ask (几月, 几时, 多大): question words, not the matter asked about."""
    return frozenset(c for f in facets().facets for c in f.cues if any(a in c for a in _ASKING))


@lru_cache(maxsize=1)
def facets() -> Facets:
    return Facets.load()
