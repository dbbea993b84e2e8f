"""Text normalisation shared by queries and indexed documents.

``normalize`` is for what villagers type or speak: traditional → simplified, full/half width,
case, punctuation and emoji, Chinese numerals → digits, filler words, and south-western Mandarin
dialect words → standard ones (``content/data/dialect.tsv``). ``normalize_doc`` is the
same without the (slow) traditional → simplified step, for catalog text that is already
simplified. Both are idempotent.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

import cn2an
import opencc

from content.matcher.datafile import read_tsv

DIALECT_PATH = Path(__file__).resolve().parent.parent / "data" / "dialect.tsv"

# Spoken fillers that carry no meaning (speech recognition keeps them).
FILLERS = ("就是说", "那个", "这个", "然后", "嗯", "呃", "唔", "额", "emm", "em")
# 唔 is also Cantonese 不 (唔使, 得唔得, 系唔系): a filler only when no verb or adjective follows it;
# 额 is also the 额 of 额度, 金额, 名额, 差额: a filler only outside such a word, and north-western
# 我 before 家, 们, 村… (额家, 额们: the dialect table makes it 我).
_FILLER_BEFORE = {"额": "(?<![金名限差余数份超定总配小大巨面税])"}
_FILLER_AFTER = {
    "唔": "(?![使得系会好知识够记食该同到去想合满清啱着理准用敢肯收算见])",
    "额": "(?![度外定家们村屋娃爸妈爷奶孙])",
}
_FILLER_RE = re.compile(
    "|".join(
        _FILLER_BEFORE.get(f, "") + re.escape(f) + _FILLER_AFTER.get(f, "")
        for f in sorted(FILLERS, key=len, reverse=True)
    )
)

_NUMERAL_CHARS = "零〇一二三四五六七八九十百千万两"
_MULTIPLIERS = set("十百千万")
_NUMERAL_RUN = re.compile(f"[{_NUMERAL_CHARS}]+")
# A single numeral is converted only before one of these units ("一年级" → "1年级", "一卡通" stays).
_UNITS = set("岁元块亩天日月年周个次人户口斤档级项万千百")
_YEAR_DIGITS = str.maketrans("零〇一二三四五六七八九", "00123456789")
_SPACES = re.compile(r"\s+")
_DECIMAL_POINT = re.compile(r"(?<=\d) (?=\d)")


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def _t2s_keys() -> tuple[frozenset[str], tuple[str, ...]] | None:
    """What a text must hold for t2s to change it: one of these characters or one of these phrases.

    Every key of the t2s dictionaries is one of the characters, or a phrase that has one of them or
    is listed; a text with none of them holds no key, and ``convert`` returns it unchanged. None
    when the converter's dictionaries cannot be read (then every text is converted).
    """
    try:
        keys = [key for group in _t2s()._dict_chain_data for _, _, table in group for key in table]
    except (AttributeError, TypeError, ValueError):
        return None
    if not all(isinstance(key, str) and key for key in keys):
        return None
    chars = frozenset(key for key in keys if len(key) == 1)
    return chars, tuple(key for key in keys if len(key) > 1 and chars.isdisjoint(key))


def _simplified(text: str) -> str:
    """``_t2s().convert(text)``, at once for a text without traditional characters (most questions)."""
    keys = _t2s_keys()
    if keys is not None and keys[0].isdisjoint(text) and not any(p in text for p in keys[1]):
        return text
    return _t2s().convert(text)


def _is_noise(ch: str) -> bool:
    """Punctuation, symbols (emoji included), marks and control characters."""
    if ch.isspace():
        return True
    cat = unicodedata.category(ch)
    return cat[0] in "PSCZ" or cat in ("Mn", "Me")


def _numeral(match: re.Match[str]) -> str:
    run = match.group(0)
    end = match.end()
    nxt = match.string[end] if end < len(match.string) else ""
    has_multiplier = any(c in _MULTIPLIERS for c in run)
    if len(run) == 1 and nxt not in _UNITS:
        return run
    if len(run) > 1 and not has_multiplier and nxt not in _UNITS:
        return run
    if run.startswith("两") or run.startswith("万") or run.startswith("千") or run.startswith("百"):
        return run
    if len(run) == 4 and nxt == "年" and not has_multiplier:
        return run.translate(_YEAR_DIGITS)  # 二零二一年: a year read digit by digit
    try:
        value = cn2an.cn2an(run, "strict")
    except (ValueError, KeyError, TypeError, IndexError):
        return run
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _once(text: str, *, simplify: bool) -> str:
    text = unicodedata.normalize("NFKC", text)
    if simplify:
        text = _simplified(text)
    text = text.lower()
    out = []
    for ch in text:
        if ch == "." or ch == "%":
            out.append(ch)
        elif _is_noise(ch):
            out.append(" ")
        else:
            out.append(ch)
    text = "".join(out)
    # keep a decimal point only between digits
    text = re.sub(r"(?<!\d)[.%]|\.(?!\d)", " ", text)
    text = _NUMERAL_RUN.sub(_numeral, text)
    text = _FILLER_RE.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    return _DECIMAL_POINT.sub(" ", text)


def _fixpoint(text: str, *, simplify: bool) -> str:
    for _ in range(6):
        nxt = _once(text, simplify=simplify)
        if nxt == text:
            break
        text = nxt
    return text


@dataclass(frozen=True)
class DialectRule:
    dialect: str
    standard: str
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class Dialect:
    """The dialect rewrite table: rules tried longest dialect word first, each with its context."""

    version: str
    rules: tuple[DialectRule, ...]

    @classmethod
    def parse(cls, text: str) -> Dialect:
        rules: list[DialectRule] = []
        version, rows = read_tsv(text)
        for lineno, parts in rows:
            if len(parts) != 4 or not parts[0] or not parts[1]:
                raise ValueError(f"dialect line {lineno}: expected dialect<TAB>standard<TAB>after<TAB>before")
            word, standard, after, before = parts
            regex = _context(before, behind=True) + re.escape(word) + _context(after, behind=False)
            try:
                pattern = re.compile(regex)
            except re.error as exc:
                raise ValueError(f"dialect line {lineno}: {exc}") from exc
            rules.append(DialectRule(word, standard, pattern))
        if not version:
            raise ValueError("dialect table has no '# version:' header line")
        rules.sort(key=lambda r: -len(r.dialect))
        return cls(version, tuple(rules))

    @classmethod
    def load(cls, path: Path = DIALECT_PATH) -> Dialect:
        return cls.parse(path.read_text(encoding="utf-8"))

    def rewrite(self, text: str) -> str:
        for rule in self.rules:
            if rule.dialect in text:
                text = rule.pattern.sub(rule.standard, text)
        return text


def _context(spec: str, *, behind: bool) -> str:
    spec = spec.strip()
    if spec in ("", "-"):
        return ""
    negative = spec.startswith("!")
    body = spec[1:] if negative else spec
    if behind:
        if not (body.startswith("[") and body.endswith("]")):
            raise ValueError(f"a 'before' context must be a character class: {spec}")
        return f"(?<!{body})" if negative else f"(?<={body})"
    return f"(?!{body})" if negative else f"(?={body})"


@lru_cache(maxsize=1)
def dialect() -> Dialect:
    return Dialect.load()


def normalize(text: str) -> str:
    """A villager's message, made comparable with catalog text (dialect words made standard)."""
    table = dialect()
    text = _fixpoint(text, simplify=True)
    for _ in range(4):
        nxt = table.rewrite(text)
        if nxt == text:
            break
        text = _fixpoint(nxt, simplify=True)
    return text


def normalize_plain(text: str) -> str:
    """``normalize`` without the dialect rewrite: the villager's own words, kept as alternatives."""
    return _fixpoint(text, simplify=True)


def dialect_words(plain: str) -> list[tuple[str, str]]:
    """(dialect word, standard word) of each rewrite that applies to a ``normalize_plain`` text
    (苞谷 → 玉米, 好多 → 多少…), longest dialect word first."""
    return [(r.dialect, r.standard) for r in dialect().rules if r.dialect in plain and r.pattern.search(plain)]


def normalize_doc(text: str) -> str:
    """Catalog or interpretation text (already simplified Chinese)."""
    return _fixpoint(text, simplify=False)


def segments(text: str) -> list[str]:
    """The space-separated runs of a normalised text."""
    return [s for s in text.split(" ") if s]


def char_tokens(text: str) -> list[str]:
    """Character unigrams and bigrams (bigrams do not cross a space); ASCII runs stay whole."""
    tokens: list[str] = []
    for seg in segments(text):
        units = _units(seg)
        tokens.extend(units)
        tokens.extend(a + b for a, b in pairwise(units))
    return tokens


_ASCII_RUN = re.compile(r"[a-z0-9.%]+|[^a-z0-9.%]")


def _units(seg: str) -> list[str]:
    """A segment as a list of units: one per CJK character, one per ASCII word or number."""
    return _ASCII_RUN.findall(seg)


def bigrams(text: str) -> set[str]:
    """The set of unit bigrams of a normalised text (and lone units of one-unit segments)."""
    out: set[str] = set()
    for seg in segments(text):
        units = _units(seg)
        if len(units) == 1:
            out.add(units[0])
        out.update(a + b for a, b in pairwise(units))
    return out
