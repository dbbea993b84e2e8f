"""The colloquial lexicon: villagers' words → catalog vocabulary.

The data lives in ``content/data/lexicon.tsv`` (versioned in its header). A term found in a
question adds its canonical terms to the query; every term and canonical term also goes into the
jieba user dictionary, and interpretation keywords join as extra vocabulary.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from content.matcher.datafile import read_tsv
from content.matcher.normalize import normalize_doc

LEXICON_PATH = Path(__file__).resolve().parent.parent / "data" / "lexicon.tsv"


@dataclass(frozen=True)
class Entry:
    term: str  # normalised
    canonical: tuple[str, ...]  # normalised
    domains: tuple[str, ...]


@dataclass(frozen=True)
class Match:
    term: str
    start: int
    end: int
    canonical: tuple[str, ...]


@dataclass
class Lexicon:
    version: str
    entries: dict[str, Entry]
    extra_words: set[str] = field(default_factory=set)
    _pattern: re.Pattern[str] | None = None

    @classmethod
    def load(cls, path: Path = LEXICON_PATH) -> Lexicon:
        return cls.parse(path.read_text(encoding="utf-8"))

    @classmethod
    def parse(cls, text: str) -> Lexicon:
        entries: dict[str, Entry] = {}
        version, rows = read_tsv(text)
        for lineno, parts in rows:
            if len(parts) < 2 or not parts[0].strip() or not parts[1].strip():
                raise ValueError(f"lexicon line {lineno}: expected term<TAB>canonical[;canonical]")
            term = normalize_doc(parts[0])
            canonical = tuple(c for c in (normalize_doc(x) for x in parts[1].split(";")) if c)
            domains = tuple(d for d in (parts[2].split(";") if len(parts) > 2 else []) if d and d != "-")
            old = entries.get(term)
            if old is not None:
                canonical = old.canonical + tuple(c for c in canonical if c not in old.canonical)
                domains = old.domains + tuple(d for d in domains if d not in old.domains)
            entries[term] = Entry(term, canonical, domains)
        if not version:
            raise ValueError("lexicon has no '# version:' header line")
        return cls(version=version, entries=entries)

    def with_keywords(self, keywords: Iterable[str]) -> Lexicon:
        """A copy that also knows these words (interpretation keywords) as vocabulary."""
        extra = {normalize_doc(k) for k in keywords if k.strip()}
        return Lexicon(self.version, dict(self.entries), self.extra_words | extra)

    @property
    def pattern(self) -> re.Pattern[str]:
        if self._pattern is None:
            terms = sorted(self.entries, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(t) for t in terms) or "(?!)")
        return self._pattern

    def find(self, text: str) -> list[Match]:
        """Non-overlapping lexicon terms in a normalised text, longest first at each position."""
        return [
            Match(m.group(0), m.start(), m.end(), self.entries[m.group(0)].canonical)
            for m in self.pattern.finditer(text)
        ]

    def rewrite(self, text: str, matches: list[Match] | None = None) -> list[str]:
        """The canonical terms a normalised question brings in (in order, without duplicates).

        ``matches`` is ``find(text)`` when the caller has it already.
        """
        out: list[str] = []
        for match in self.find(text) if matches is None else matches:
            for c in match.canonical:
                if c not in out and c not in text:
                    out.append(c)
        return out

    def vocabulary(self) -> set[str]:
        """Every term and canonical term, plus the extra words: for jieba and homophone repair."""
        words = set(self.entries) | self.extra_words
        for entry in self.entries.values():
            words.update(entry.canonical)
        return {w for w in words if len(w) >= 2}

    def jieba_userdict(self) -> list[str]:
        """Lines for ``jieba.load_userdict``: ``word freq``."""
        return [f"{w} 2000" for w in sorted(self.vocabulary()) if " " not in w]
