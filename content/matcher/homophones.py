"""Homophone repair by pinyin: 底保 → 低保, 医报 → 医保, and pinyin typed as letters (dibao → 低保).

Pinyin-input typos keep the sound and change the character. Each vocabulary word (lexicon terms,
interpretation keywords, words of catalog titles and elements) is keyed by its toneless pinyin;
a window of the question that is not itself a known word but sounds like a vocabulary word brings
that word in. A fuzzy key also forgives the confusions of south-western Mandarin (n/l, zh/z,
ch/c, sh/s, in/ing, en/eng, an/ang).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache

from pypinyin import Style, lazy_pinyin
from pypinyin.seg.simpleseg import seg as pinyin_words

_CJK = re.compile(r"[\u4e00-\u9fff]+")
_LETTERS = re.compile(r"[a-z]+")
_LETTER_RUN = re.compile(r"[a-z]+(?: [a-z]+)*")
_MAX_WINDOW = 4


def syllables(text: str) -> list[str]:
    """``lazy_pinyin(text, style=Style.NORMAL, errors="ignore")``, from the memoised pinyin of its words.

    pypinyin cuts a text into dictionary phrases, single characters and runs without pinyin
    (``pinyin_words``), and converts each on its own; a phrase or character of that cut is cut
    into itself again, so converting it alone gives its part of the text's pinyin.
    """
    out: list[str] = []
    for word in pinyin_words(text):
        out.extend(_word_syllables(word))
    return out


@lru_cache(maxsize=65_536)
def _word_syllables(word: str) -> tuple[str, ...]:
    """The toneless pinyin of one word of pypinyin's cut (phrases and characters recur across questions)."""
    return tuple(lazy_pinyin(word, style=Style.NORMAL, errors="ignore"))


@lru_cache(maxsize=4_096)
def fuzzy_syllable(s: str) -> str:
    for a, b in (("zh", "z"), ("ch", "c"), ("sh", "s")):
        if s.startswith(a):
            s = b + s[len(a) :]
    if s.startswith("l"):
        s = "n" + s[1:]
    for a, b in (("ing", "in"), ("eng", "en"), ("ang", "an")):
        if s.endswith(a):
            s = s[: -len(a)] + b
    return s


class PinyinIndex:
    """Vocabulary words keyed by their pinyin."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words: set[str] = set()
        self.exact: dict[str, list[str]] = {}
        self.fuzzy: dict[str, list[str]] = {}
        for word in words:
            if not (2 <= len(word) <= 8) or not _CJK.fullmatch(word):
                continue
            self.words.add(word)
            sy = syllables(word)
            if len(sy) != len(word):
                continue
            self.exact.setdefault("".join(sy), []).append(word)
            self.fuzzy.setdefault("".join(fuzzy_syllable(s) for s in sy), []).append(word)
        for table in (self.exact, self.fuzzy):
            for key, ws in table.items():
                table[key] = sorted(set(ws), key=lambda w: (len(w), w))

    def letters(self, run: str) -> list[str]:
        """Words spelled by a run of pinyin letters ("cunliganbu" → 村里, 干部), or [] if it is not pinyin."""
        n = len(run)
        best: list[tuple[int, list[str]] | None] = [None] * (n + 1)
        best[0] = (0, [])
        for i in range(n):
            cur = best[i]
            if cur is None:
                continue
            for j in range(i + 2, min(n, i + 24) + 1):
                words = self.exact.get(run[i:j])
                if not words:
                    continue
                cand = (cur[0] + (j - i), [*cur[1], words[0]])
                old = best[j]
                if old is None or cand[0] > old[0] or (cand[0] == old[0] and len(cand[1]) < len(old[1])):
                    best[j] = cand
            # allow skipping one letter (typo) at a cost
            if best[i + 1] is None:
                best[i + 1] = (cur[0], cur[1])
        end = best[n]
        if end is None or end[0] < 0.8 * n:
            return []
        return end[1]

    def repair(
        self, text: str, known: Callable[[str], bool], cut: Callable[[str], list[str]] | None = None
    ) -> list[tuple[str, str]]:
        """(window, word) pairs: windows of a normalised text that sound like a vocabulary word.

        Longer windows first; windows never overlap. Characters inside a vocabulary word are never
        touched; characters inside a general dictionary word (``known``, or any word of three or more
        characters ``cut`` makes: 几月份 keeps its 份) only by a window of three or more characters.
        """
        found: list[tuple[str, str]] = []
        for m in _CJK.finditer(text):
            seg = m.group(0)
            sy = syllables(seg)
            if len(sy) != len(seg):
                continue
            fz = [fuzzy_syllable(s) for s in sy]
            locked = [False] * len(seg)  # inside a vocabulary word
            common = [False] * len(seg)  # inside a general word
            for size in range(min(8, len(seg)), 1, -1):
                for i in range(len(seg) - size + 1):
                    if seg[i : i + size] in self.words:
                        for j in range(i, i + size):
                            locked[j] = True
            pos = 0
            for word in cut(seg) if cut else [seg]:
                if len(word) >= 2 and (known(word) or (cut is not None and len(word) >= 3)):
                    for j in range(pos, pos + len(word)):
                        common[j] = True
                pos += len(word)
            for size in range(min(_MAX_WINDOW, len(seg)), 1, -1):
                for i in range(len(seg) - size + 1):
                    if any(locked[i : i + size]) or (size < 3 and any(common[i : i + size])):
                        continue
                    window = seg[i : i + size]
                    if known(window):
                        continue
                    words = self.exact.get("".join(sy[i : i + size])) or (
                        self.fuzzy.get("".join(fz[i : i + size])) if size >= 3 else None
                    )
                    if words and words[0] != window:
                        found.append((window, words[0]))
                        for j in range(i, i + size):
                            locked[j] = True
        return found

    def apply(
        self, text: str, known: Callable[[str], bool], cut: Callable[[str], list[str]] | None = None
    ) -> tuple[str, list[str]]:
        """The text with sound-alike windows replaced by vocabulary words, and those words."""
        pairs = self.repair(text, known, cut)
        for window, word in pairs:
            text = text.replace(window, word)
        return text, [w for _, w in pairs]

    def spell_out(self, text: str) -> str:
        """Replace runs of pinyin letters by the words they spell; other letters stay."""

        def sub(m: re.Match[str]) -> str:
            words = self.letters(m.group(0))
            return " " + " ".join(words) + " " if words else m.group(0)

        def sub_run(m: re.Match[str]) -> str:
            # Syllables typed with spaces ("jiao shui") spell a word together; else word by word.
            run = m.group(0)
            words = self.letters(run.replace(" ", "")) if " " in run else []
            return " " + " ".join(words) + " " if words else _LETTERS.sub(sub, run)

        return re.sub(r"\s+", " ", _LETTER_RUN.sub(sub_run, text)).strip()
