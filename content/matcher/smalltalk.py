"""Greetings, thanks and acknowledgements: answered with a short friendly line, never "matched".

Off-topic questions (weather, prices, chit-chat) are left to retrieval, which finds nothing close
enough and abstains; this module only recognises messages made of social phrases alone.
"""

from __future__ import annotations

import re

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
    rest = _RE.sub("", text)
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
