"""What the bot says to villagers (Chinese), and fitting replies into WeChat's practical length.

Every text here is plain text (no markup): the official account shows it as one chat bubble.
"""

from __future__ import annotations

MAX_REPLY_CHARS = 600
"""Passive replies longer than this fail on some phones (no official number; ~600–1,000 reported)."""

MENU_BIND = "BIND_VILLAGE"
MENU_MY_VILLAGE = "MY_VILLAGE"
MENU_HELP = "HELP"
"""Menu ``CLICK`` keys the account's custom menu is configured with."""

BIND_PROMPT = "请发送“绑定 村名”来绑定您所在的村，例如：绑定 清河村（也可以发送村编码，如：绑定 QH01）。"
BIND_MISSING_NAME = "请在“绑定”后面写上村名，例如：绑定 清河村。"
NOT_BOUND = "您还没有绑定村庄。请先发送“绑定 村名”，例如：绑定 清河村。"
VOICE_UNRECOGNISED = "抱歉，没有听清您的语音。请再说一遍，或直接打字提问。"
EMPTY_TEXT = "请直接发送您想问的问题，例如：“低保怎么申请”。发送“帮助”查看全部用法。"
BUSY = "系统正在更新资料，请稍后再问。"
STARTING = "系统正在启动，请稍后再问。"
CONTINUED = "（接上条）"


def _phone(service_phone: str) -> str:
    return f"\n如需人工帮助，请拨打服务电话：{service_phone}。" if service_phone else ""


def welcome(service_phone: str = "") -> str:
    return (
        "欢迎关注村务通！我可以帮您：\n"
        "1. 查政策：直接发文字或语音提问，如“耕地地力补贴一亩多少钱”；\n"
        "2. 看本村公开：先发送“绑定 村名”（如“绑定 清河村”），再发“我村公开”；\n"
        "3. 发送“帮助”查看全部用法。" + _phone(service_phone)
    )


def help_text(service_phone: str = "") -> str:
    return (
        "村务通使用说明：\n"
        "· 直接提问：发文字或语音，如“低保怎么申请”\n"
        "· 绑定 村名：绑定您所在的村，如“绑定 芒洪村”或“绑定 QH03”\n"
        "· 我村公开：查看本村村务公开清单和最近公开日期\n"
        "· 解绑：取消村庄绑定\n"
        "· 帮助：显示本说明" + _phone(service_phone)
    )


def bound(village_name: str, township: str = "") -> str:
    where = f"{township}{village_name}" if township else village_name
    return f"已为您绑定：{where}。发送“我村公开”可查看本村村务公开情况；提问时会优先查找本村的公开内容。"


def bind_ambiguous(candidates: list[tuple[str, str]]) -> str:
    lines = [f"· {name}（{code}）" for code, name in candidates[:8]]
    return "找到多个可能的村，请发送更完整的村名或村编码：\n" + "\n".join(lines) + "\n例如：绑定 " + candidates[0][0]


def bind_not_found(text: str) -> str:
    shown = text if len(text) <= 20 else text[:20] + "…"
    return f"没有找到“{shown}”。请检查村名，例如：绑定 清河村，或发送村编码，如：绑定 QH01。"


def unbound(village_name: str | None) -> str:
    if village_name:
        return f"已解除与{village_name}的绑定。需要时可再次发送“绑定 村名”。"
    return "您还没有绑定村庄。发送“绑定 村名”即可绑定。"


def unsupported(msg_type: str) -> str:
    kinds = {"image": "图片", "location": "位置", "link": "链接", "video": "视频", "shortvideo": "小视频"}
    kind = kinds.get(msg_type, "这类消息")
    return f"收到您的{kind}，谢谢！目前我只能看懂文字和语音。请用文字或语音提问，发送“帮助”查看用法。"


def error_reply(service_phone: str = "") -> str:
    return "抱歉，系统暂时出了点问题，请稍后再试。" + _phone(service_phone)


def no_answer(service_phone: str = "") -> str:
    return "抱歉，暂时没有找到相关的公开信息。可以换个说法再问，或发送“帮助”查看用法。" + _phone(service_phone)


def fit(text: str, *, limit: int = MAX_REPLY_CHARS, link: str | None = None) -> tuple[str, list[str]]:
    """Fit ``text`` in one reply of at most ``limit`` characters.

    With ``link`` (the village page), a long text is cut at a sentence end and ends with the link;
    the rest is dropped. Without it the rest comes back as further parts of at most ``limit``
    characters each, to be sent as customer-service messages. Returns ``(first, rest)``.
    """
    text = text.strip()
    if len(text) <= limit:
        return text, []
    if link:
        tail = f"\n……详见：{link}"
        return _cut(text, limit - len(tail)) + tail, []
    parts: list[str] = []
    remaining = text
    while remaining:
        budget = limit if not parts else limit - len(CONTINUED)
        piece = _cut(remaining, budget) if len(remaining) > budget else remaining
        parts.append(piece if not parts else CONTINUED + piece)
        remaining = remaining[len(piece) :].lstrip()
    return parts[0], parts[1:]


_BREAKS = "\n。！？；!?;"


def _cut(text: str, limit: int) -> str:
    """The longest prefix of ``text`` within ``limit`` that ends at a sentence break, if one is near."""
    limit = max(limit, 1)
    head = text[:limit]
    best = max(head.rfind(ch) for ch in _BREAKS)
    if best >= limit * 0.6:
        return head[: best + 1]
    return head
