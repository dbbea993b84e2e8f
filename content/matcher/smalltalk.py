"""Greetings, thanks and acknowledgements: answered with a short friendly line, never "matched";
and everyday chit-chat (weather, prices, health advice, repairs, games, family life…), recognised
by the category table ``content/data/offtopic.tsv`` and answered with a polite abstention.

Anything else is left to retrieval, whose coverage-based confidence abstains when no document is
close enough.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from content.matcher.datafile import read_tsv

GREETING = "greeting"
THANKS = "thanks"
ACK = "ack"
EMPTY = "empty"

_PHRASES: dict[str, tuple[str, ...]] = {
    GREETING: (
        "你好",
        "您好",
        "早上好",
        "上午好",
        "中午好",
        "下午好",
        "晚上好",
        "早安",
        "晚安",
        "在吗",
        "在不在",
        "有人吗",
        "有人在吗",
        "哈喽",
        "嗨",
        "hello",
        "hi",
        "hey",
        "喂",
        "打扰了",
        "大家好",
        "老师好",
        "领导好",
    ),
    THANKS: ("谢谢", "多谢", "感谢", "谢了", "辛苦了", "麻烦了", "thanks", "thank you", "谢谢你", "太感谢了", "3q"),
    ACK: (
        "好的",
        "好",
        "收到",
        "知道了",
        "晓得了",
        "明白了",
        "懂了",
        "要得",
        "行",
        "可以",
        "嗯嗯",
        "ok",
        "okay",
        "没问题",
        "好吧",
        "哈哈",
        "呵呵",
        "嘿嘿",
        "再见",
        "拜拜",
        "bye",
        "晓得",
        "对",
        "是的",
        "没事了",
        "好嘞",
    ),
}
_PARTICLES = set("啊呀吧呢哦噢啦嘛哈吗了的哟喔耶么你您我们大家")
# How villagers address the bot or an official: "早上好啊老师" is still a greeting.
_ADDRESS = re.compile("老师|领导|师傅|同志|干部|书记|主任|大哥|大姐|小妹|美女|帅哥|妹子|姐姐|哥哥|阿姨|叔叔|老乡|朋友")
_ORDER = (THANKS, GREETING, ACK)


def _pattern() -> re.Pattern[str]:
    words = sorted({w for ws in _PHRASES.values() for w in ws}, key=len, reverse=True)
    return re.compile("|".join(re.escape(w) for w in words))


_RE = _pattern()
_KIND = {w: kind for kind in _ORDER[::-1] for w in _PHRASES[kind]}


def classify(normalized: str) -> str | None:
    """The kind of social message this is, or None when it may be a real question."""
    text = normalized.replace(" ", "")
    if not text:
        return EMPTY
    kinds = [_KIND[m.group(0)] for m in _RE.finditer(text)]
    rest = _ADDRESS.sub("", _RE.sub("", text))
    if not kinds or any(ch not in _PARTICLES for ch in rest):
        return None
    for kind in _ORDER:
        if kind in kinds:
            return kind
    return None


REPLIES = {
    GREETING: "您好！我是村务通，可以问我低保、医保、养老、种地补贴、户口、上学、危房改造、村务公开这些事。",
    THANKS: "不客气！还有什么想问的，随时发消息给我。",
    ACK: "好的！还有什么想问的，随时发消息给我。",
    EMPTY: "您好！请用文字把想问的事情发给我，比如“低保怎么申请”“医保一年交多少”。",
}


# ---------------------------------------------------------------------------------- off-topic

OFFTOPIC_PATH = Path(__file__).resolve().parent.parent / "data" / "offtopic.tsv"
ANCHOR = "anchor"
STRONG = "strong"
WEAK = "weak"
FOCUS = "focus"  # in the table: a weak cue that a policy anchor does not cancel (it names what is asked)


@dataclass(frozen=True)
class Chat:
    """A chit-chat cue found in a question: its category, strength and the words that matched."""

    category: str
    strength: str
    cue: str


@dataclass(frozen=True)
class OfftopicTable:
    """Chit-chat categories (weather, prices, health advice, repairs, games…) as regular expressions.

    A ``strong`` category makes a question off-topic whatever else it says; a ``weak`` one only when
    no policy anchor (补贴, 报销, 申请…) is in the question too. A ``focus`` category names what the
    question asks (发霉, 机油, 狗咬人): a policy word beside it is one shared word, not a policy
    question, so it stands (as a weak cue) unless the answering document covers it.
    """

    version: str
    strong: tuple[tuple[str, re.Pattern[str]], ...]
    weak: tuple[tuple[str, re.Pattern[str]], ...]
    anchor: re.Pattern[str] | None
    focus: tuple[tuple[str, re.Pattern[str]], ...] = ()

    @classmethod
    def parse(cls, text: str) -> OfftopicTable:
        strong: list[tuple[str, re.Pattern[str]]] = []
        weak: list[tuple[str, re.Pattern[str]]] = []
        focus: list[tuple[str, re.Pattern[str]]] = []
        anchors: list[str] = []
        version, rows = read_tsv(text)
        for lineno, parts in rows:
            if len(parts) != 3 or not parts[2]:
                raise ValueError(f"offtopic line {lineno}: expected 3 tab-separated columns")
            category, strength, pattern = parts
            try:
                rx = re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"offtopic line {lineno}: bad pattern: {exc}") from exc
            if category == ANCHOR:
                anchors.append(pattern)
            elif strength == STRONG:
                strong.append((category, rx))
            elif strength == WEAK:
                weak.append((category, rx))
            elif strength == FOCUS:
                focus.append((category, rx))
            else:
                raise ValueError(f"offtopic line {lineno}: strength must be strong, weak or focus")
        if not version:
            raise ValueError("offtopic table has no '# version:' header line")
        anchor = re.compile("|".join(f"(?:{a})" for a in anchors)) if anchors else None
        return cls(version, tuple(strong), tuple(weak), anchor, tuple(focus))

    @classmethod
    def load(cls, path: Path = OFFTOPIC_PATH) -> OfftopicTable:
        return cls.parse(path.read_text(encoding="utf-8"))

    def match(self, normalized: str) -> Chat | None:
        """The chit-chat match of a normalised question, or None when it may be about policy.

        A ``strong`` match is chit-chat whatever retrieval finds; a ``weak`` one is overruled by a
        document that covers the question well, the matched words included (see ``Matcher.ask``).
        """
        text = normalized.replace(" ", "")
        for name, rx in self.strong:
            m = rx.search(text)
            if m:
                return Chat(name, STRONG, m.group(0))
        for name, rx in self.focus:
            m = rx.search(text)
            if m:
                return Chat(name, WEAK, m.group(0))
        last_anchor = max((a.end() for a in self.anchor.finditer(text)), default=-1) if self.anchor else -1
        for name, rx in self.weak:
            cues = list(rx.finditer(text))
            # a policy word cancels the cue only when the question goes on to it after the cue: one
            # that ends on the chit-chat (稻谷补贴发了我想买个新手机) asks about the chit-chat
            if cues and cues[-1].start() >= last_anchor:
                return Chat(name, WEAK, cues[-1].group(0))
        return None

    def category(self, normalized: str) -> str | None:
        """The chit-chat category of a normalised question, or None when it may be about policy."""
        got = self.match(normalized)
        return got.category if got else None


@lru_cache(maxsize=1)
def offtopic_table() -> OfftopicTable:
    return OfftopicTable.load()


def offtopic(normalized: str) -> str | None:
    """The off-topic category (weather, market, health…) of a normalised question, or None."""
    return offtopic_table().category(normalized)


def offtopic_match(normalized: str) -> Chat | None:
    """The off-topic cue (category, strength, matched words) of a normalised question, or None."""
    return offtopic_table().match(normalized)
