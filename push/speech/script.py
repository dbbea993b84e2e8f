"""A notice rewritten to be heard: an opening suited to its kind, a body without tables, lists, links or
Markdown, sentences short enough to follow, numbers as an announcer reads them, no personal data, and a
closing that repeats the key facts. Urgent notices call for attention twice and are played twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from push.notice_file import NoticeFile
from push.speech.numbers import speak_numbers
from push.speech.privacy import scrub
from push.speech.tables import Table, summarise_people, table_sentences

ATTENTION = "村民朋友们请注意！"
REPEAT_LINE = "以上通知再播送一遍。"

_OPENINGS = {
    "补贴发放": "村民朋友们，现在播送一则补贴公示。",
    "社会救助公示": "村民朋友们，现在播送一则社会救助公示。",
    "村级财务公开": "村民朋友们，现在公开村级财务收支情况。",
    "政策宣传": "乡亲们，现在播送一则政策宣传。",
    "应急通知": "现在播送紧急通知。",
    "会议通知": "各位村民，现在播送一则会议通知。",
}

# Sentences longer than this (in characters) are split at a comma near the middle.
MAX_SENTENCE = 40
_MIN_PIECE = 8

_ASCII_PUNCTUATION = str.maketrans(",;:!?()", "，；：！？，，")
_DIGIT_WORDS = set("零幺一二三四五六七八九")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_DOC_NUMBER = re.compile(r"[（(][^（）()]*〔\d{4}〕[^（）()]*号[）)]|[\u4e00-\u9fff]{1,8}〔\d{4}〕\d+号")
_PHONE = re.compile(r"(?<!\d)0\d{2,3}-\d{7,8}(?!\d)|(?<!\d)1[3-9]\d{9}(?!\d)|(?<=[拨打电话或（(])1[0-2]\d{1,3}(?!\d)")
_PAREN_PHONE = re.compile(
    r"(?<!电话)[（(]\s*((?:" + _PHONE.pattern + r")(?:[、，,或]\s*(?:" + _PHONE.pattern + r"))*)\s*[）)]"
)
_PAREN = re.compile(r"[（(]([^（）()]*)[）)]")
_UNIT_CAPTION = re.compile(r"[（(](元|万元|亩|人|户)[）)]\s*$")
_LINK = re.compile(r"!\[[^\]]*\]\([^)]*\)|\[([^\]]+)\]\([^)]*\)")
_URL = re.compile(r"(?:https?://|www\.)[^\s，。；）)]+")
_HTML = re.compile(r"<[^>]+>")
_LIST_MARK = re.compile(r"^\s*(?:[-*+•]|\d+[.)]|>+)\s+")
_HEADING = re.compile(r"^\s*#{1,6}\s*")
# Single * is not treated as emphasis: it would break masked names (张*华、李*芬) apart.
_EMPHASIS = re.compile(r"(\*\*|__|`+|~~)(.+?)\1")
_MARKDOWN_LEFT = re.compile(r"[|#*`_~<>\[\]{}^=+\\\"'@$&]")
_DATE_WORD = re.compile(r"\d{1,2}月(?:\d{1,2}[日号]|底|初|中旬|上旬|下旬)|\d{4}-\d{1,2}-\d{1,2}")
_WHEN_WORD = re.compile(r"至|截止|定于|之前|前|起")
_OBJECTION = re.compile(r"异议|疑问|举报|投诉")


@dataclass(frozen=True)
class Script:
    """The spoken form of one notice. ``sentences`` is what the loudspeaker plays, in order."""

    notice_id: str
    title: str
    opening: tuple[str, ...]
    body: tuple[str, ...]
    closing: tuple[str, ...]
    repeat: bool = False

    @property
    def sentences(self) -> tuple[str, ...]:
        once = (*self.opening, *self.body, *self.closing)
        return (*once, REPEAT_LINE, *once) if self.repeat else once

    @property
    def text(self) -> str:
        return "\n".join(self.sentences) + "\n"

    @property
    def spoken_characters(self) -> int:
        """Chinese characters to be spoken (punctuation not counted)."""
        return len(_HAN.findall(self.text))


def build_script(
    notice: NoticeFile,
    *,
    known_names: Iterable[str] = (),
    posted_at: Sequence[str] | None = None,
) -> Script:
    """The spoken script of ``notice``.

    ``known_names``: names that must never be read (village cadres from the village lists, say).
    ``posted_at``: where a full list of people is posted; by default 村公示栏, and 村民微信群 when the notice
    also goes to WeChat groups.
    """
    names = tuple(known_names)
    if posted_at is None:
        posted_at = ("村公示栏", "村民微信群") if "微信群" in notice.channels else ("村公示栏",)
    title = spoken(notice.title, known_names=names)[0].rstrip("。")
    opening = [ATTENTION, ATTENTION] if notice.urgent else []
    opening.append(_OPENINGS.get(notice.kind, "村民朋友们，现在播送一则通知。"))
    opening.append(f"{title}。")
    body: list[str] = []
    for block in body_blocks(notice.body, posted_at=posted_at):
        body.extend(spoken(block, known_names=names))
    closing = _closing(notice, title, names, posted_at)
    return Script(
        notice_id=notice.id,
        title=title,
        opening=tuple(opening),
        body=tuple(body),
        closing=tuple(closing),
        repeat=notice.priority == "urgent",
    )


def body_blocks(body: str, *, posted_at: Sequence[str] = ("村公示栏",)) -> list[str]:
    """The body as plain-text blocks: paragraphs as they are, each table as sentences or a summary."""
    blocks: list[str] = []
    table_lines: list[str] = []
    default_unit = ""

    def flush_table() -> None:
        if not table_lines:
            return
        table = Table.parse(table_lines)
        if table.lists_people:
            blocks.extend(summarise_people(table, posted_at=posted_at))
        else:
            blocks.extend(table_sentences(table, default_unit=default_unit))
        table_lines.clear()

    for line in body.splitlines():
        if line.strip().startswith("|"):
            table_lines.append(line)
            continue
        flush_table()
        if not line.strip() or re.fullmatch(r"\s*(?:-{3,}|\*{3,}|_{3,})\s*", line):
            continue
        unit = _UNIT_CAPTION.search(line)
        default_unit = unit.group(1) if unit else ""
        blocks.append(_plain(_UNIT_CAPTION.sub("", line)))
    flush_table()
    return [b for b in blocks if b.strip()]


def _plain(line: str) -> str:
    """One line of Markdown as plain text: no heading or list marks, emphasis, links, URLs or HTML."""
    line = _HEADING.sub("", line)
    line = _LIST_MARK.sub("", line)
    line = _inline_markdown(line).strip()
    if line and line[-1] not in "。！？；：，":
        line += "。"
    return line


def _inline_markdown(text: str) -> str:
    text = _LINK.sub(lambda m: m.group(1) or "", text)
    text = _URL.sub("", text)
    text = _HTML.sub("", text)
    for _ in range(2):
        text = _EMPHASIS.sub(r"\2", text)
    return text


def spoken(text: str, *, known_names: Iterable[str] = ()) -> list[str]:
    """Plain text → spoken sentences: personal data removed, numbers read aloud, punctuation for the ear."""
    text = _inline_markdown(text)
    text = scrub(text, known_names=known_names)
    text = _DOC_NUMBER.sub("", text)
    text = _PAREN_PHONE.sub(lambda m: "，电话" + m.group(1) + "，", text)
    text = _PAREN.sub(lambda m: "，" + m.group(1) + "，" if m.group(1).strip() else "", text)
    text = re.sub(r"[《》“”‘’「」『』〔〕【】]", "", text)
    text = speak_numbers(text)
    text = _punctuation(text)
    return split_sentences(text)


def _punctuation(text: str) -> str:
    text = text.translate(_ASCII_PUNCTUATION)
    text = re.sub(r"——|—|–|-|－|…+|\.{2,}", "，", text)
    text = _MARKDOWN_LEFT.sub("", text)
    text = text.replace("/", "、").replace(".", "。").replace("·", "")
    text = re.sub(r"\s+", "", text)
    text = re.sub(r"([，、：；])[，、]+", r"\1", text)
    text = re.sub(r"[，、：]+([。！？；])", r"\1", text)
    text = re.sub(r"([。！？；])[，、。]+", r"\1", text)
    text = re.sub(r"^[，、。；：]+", "", text)
    return text


def split_sentences(text: str) -> list[str]:
    """Split at 。！？； (a ； ends a sentence too) and break sentences longer than ``MAX_SENTENCE`` at commas."""
    out: list[str] = []
    for piece in re.findall(r"[^。！？；]+[。！？；]?", text):
        piece = piece.strip("，、 ")
        if not _HAN.search(piece):
            continue
        if piece[-1] in "；：，":
            piece = piece[:-1] + "。"
        elif piece[-1] not in "。！？":
            piece += "。"
        out.extend(_split_long(piece))
    return out


def _split_long(sentence: str) -> list[str]:
    if len(sentence) <= MAX_SENTENCE:
        return [sentence]
    middle = len(sentence) // 2
    cuts = [
        i
        for i, c in enumerate(sentence)
        if c in "，："
        and _MIN_PIECE <= i <= len(sentence) - _MIN_PIECE
        and not (sentence[i - 1] in _DIGIT_WORDS and sentence[i + 1] in _DIGIT_WORDS)  # inside a phone number
    ]
    if not cuts:
        return [sentence]
    cut = min(cuts, key=lambda i: abs(i - middle))
    head, tail = sentence[:cut] + "。", sentence[cut + 1 :]
    if sentence[cut] == "：":
        head = sentence[: cut + 1]
        return [head, *_split_long(tail)] if len(head) > _MIN_PIECE else [sentence]
    return [*_split_long(head), *_split_long(tail)]


def _closing(notice: NoticeFile, title: str, names: Sequence[str], posted_at: Sequence[str]) -> list[str]:
    """Repeat what, when, where to object and the phone numbers."""
    raw = "\n".join(line for line in notice.body.splitlines() if not line.strip().startswith("|"))
    facts: list[str] = ["重要内容再说一遍。", f"{title}。"]
    clauses = [c for c in re.split(r"[，。；：！？\n]", raw) if c.strip()]
    when = [c for c in clauses if _DATE_WORD.search(c) and _WHEN_WORD.search(c)][:2]
    for clause in when:
        facts.extend(spoken(clause, known_names=names))
    sentences = [s for s in re.split(r"[。！？\n]", raw) if s.strip()]
    objection = next((s for s in sentences if _OBJECTION.search(s)), None)
    if objection:
        facts.extend(spoken(objection, known_names=names))
    if _lists_people(notice.body):
        facts.append(f"完整名单请到{posted_at[0]}查看。")
    phones = list(dict.fromkeys(_PHONE.findall(raw)))
    for index, phone in enumerate(phones):
        number = speak_numbers(phone)
        facts.append(f"联系电话：{number}。" if index == 0 else f"或者拨打：{number}。")
    return facts


def _lists_people(body: str) -> bool:
    lines = [line for line in body.splitlines() if line.strip().startswith("|")]
    return bool(lines) and Table.parse(lines[:1]).lists_people
