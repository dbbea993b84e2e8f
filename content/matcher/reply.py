"""The text a villager reads: plain, friendly, at most 600 characters, no markup WeChat shows raw.

Disclosure rules hold here too: an interpretation's body is quoted only when it may be shown
(never for 此件依申请公开: only title, document, 文号, issuer and how to apply); an abolished
interpretation is labelled wherever it appears; a 依申请 catalog item is answered with how to apply.
"""

from __future__ import annotations

from collections.abc import Sequence

from content.matcher.documents import KIND_CATALOG, KIND_INTERPRETATION, KIND_VILLAGE, Doc
from content.matcher.passages import Passage
from content.vocab import DISCLOSURE_ON_APPLICATION

MAX_CHARS = 600
ABOLISHED_LABEL = "（已废止）"
_MARKUP = str.maketrans({"*": "", "#": "", "`": "", "|": " ", ">": " "})


def label(doc: Doc) -> str:
    """A doc's name as shown in lists: with 《》 for interpretations and the abolished label."""
    if doc.kind == KIND_INTERPRETATION:
        name = f"《{doc.title}》"
    elif doc.kind == KIND_VILLAGE:
        name = f"本村清单：{doc.title}"
    else:
        name = doc.title
    return name + (ABOLISHED_LABEL if doc.abolished else "")


def _clean(text: str) -> str:
    return text.translate(_MARKUP).strip()


def _join(values: Sequence[str]) -> str:
    return "、".join(v for v in values if v)


def how_to_apply(doc: Doc) -> str:
    """Where to apply, what to bring, and the time limit, for 依申请 matters."""
    if doc.kind == KIND_INTERPRETATION:
        where = doc.issuer or "发文机关"
        return (
            f"这份文件依申请公开，不在这里展示全文。文件名称：{doc.document or doc.title}"
            + (f"（{doc.doc_number}）" if doc.doc_number else "")
            + f"，发文机关：{where}。如需查阅，请本人带身份证，向{where}或县政务服务中心提交政府信息公开申请，"
            "写明要查的文件名称和文号；一般在收到申请之日起20个工作日内答复。"
        )
    where = _join(doc.publishers) or "主管部门"
    places = [c for c in doc.channels if c in ("政务服务中心", "便民服务站", "公开查阅点")]
    place = "、".join(places) if places else "政务服务中心"
    return (
        f"这项信息依申请公开：请本人带身份证（代办的还要带委托书和代办人身份证），到{place}向{where}提出申请，"
        f"写明要查的内容（{_join(doc.elements)}）。答复时限：{doc.time_limit or '按规定时限'}。"
    )


def passage_text(passage: Passage) -> str:
    """A Q&A pair as 问/答 lines; a summary sentence as it is."""
    if passage.kind == "qa":
        return f"问：{_clean(passage.head)}\n答：{_clean(passage.text)}"
    return _clean(passage.text)


def _asked_first(rows: list[tuple[str, str]], fields: Sequence[str]) -> list[str]:
    """The field lines, those the question asks for first (in the order asked), the rest as they were."""
    rank: dict[str, int] = {}
    for f in fields:
        rank.setdefault(f, len(rank))
    return [line for _, line in sorted(rows, key=lambda r: rank.get(r[0], len(rank)))]


def answer_text(doc: Doc, qa_index: int = -1, passages: Sequence[Passage] = (), fields: Sequence[str] = ()) -> str:
    """The main answer for one doc: for an interpretation, the chosen passages (or one Q&A pair); for
    a catalog item or village row, its fields, the ones the question asks for (``fields``) first."""
    if doc.kind == KIND_INTERPRETATION:
        head = f"{label(doc)}"
        if doc.abolished:
            head += "\n注意：这份解读所依据的文件已废止，以下内容仅供参考，请以现行政策为准。"
        if doc.disclosure == DISCLOSURE_ON_APPLICATION or not doc.answers:
            return head + "\n" + how_to_apply(doc)
        if passages:
            return head + "".join("\n" + passage_text(p) for p in passages)
        i = qa_index if 0 <= qa_index < len(doc.answers) else 0
        return f"{head}\n问：{_clean(doc.questions[i])}\n答：{_clean(doc.answers[i])}"
    if doc.kind == KIND_VILLAGE:
        last = doc.last_disclosed or "本年度尚未公开"
        head = f"【{doc.group or ''}村务公开】{doc.title}"
        rows = [
            ("elements", f"公开内容：{_join(doc.elements)}"),
            ("time_limit", f"公开时限：{doc.time_limit}"),
            ("channels", f"公开渠道：{'；'.join(doc.channels)}"),
            ("last_disclosed", f"最近公开：{last}"),
        ]
        if doc.responsible:
            rows.append(("responsible", f"负责人：{doc.responsible}"))
        return "\n".join([head, *_asked_first(rows, fields)])
    lines = [f"【{doc.title}】（{doc.domain}·{doc.group}）"]
    if doc.method == "依申请":
        lines.append(how_to_apply(doc))
    else:
        rows = [
            ("elements", f"公开内容：{_join(doc.elements)}"),
            ("time_limit", f"公开时限：{doc.time_limit}"),
            ("publishers", f"公开单位：{_join(doc.publishers)}"),
            ("channels", f"在哪里看：{'；'.join(doc.channels)}"),
        ]
        if doc.audience:
            rows.append(("audience", f"公开对象：{doc.audience}"))
        lines += _asked_first(rows, fields)
    return "\n".join(lines)


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def answer_reply(
    best: Doc, qa_index: int, related: Sequence[Doc], passages: Sequence[Passage] = (), fields: Sequence[str] = ()
) -> str:
    """Best answer first, then at most two related matters, within MAX_CHARS."""
    tail = ""
    if related:
        tail = "\n相关：" + "；".join(label(d) for d in related[:2])
    main = answer_text(best, qa_index, passages, fields)
    room = MAX_CHARS - len(tail)
    return _truncate(main, room) + tail


def redacted_reply(doc: Doc, phone: str) -> str:
    """A question about what a document published with a part removed left out: say so, no more."""
    lines = [
        f"《{doc.title}》按规定删减后公开，您问的内容不在公开部分，我不能回答。",
        f"可以打镇政府服务电话 {phone} 咨询。" if phone else "可以到镇便民服务中心咨询。",
    ]
    return _truncate("\n".join(lines), MAX_CHARS)


def abstain_reply(phone: str, suggestions: Sequence[Doc]) -> str:
    lines = [
        "抱歉，这个问题我暂时答不上来。",
        "我能回答政务公开和村务公开方面的问题，比如低保、医保、养老、种地补贴、户口、上学、危房改造、征地补偿。",
    ]
    if suggestions:
        lines.append("您是不是想问：" + "；".join(label(d) for d in suggestions[:3]))
    lines.append(f"也可以打镇政府服务电话 {phone} 咨询。" if phone else "也可以直接到镇便民服务中心咨询。")
    return _truncate("\n".join(lines), MAX_CHARS)


__all__ = [
    "KIND_CATALOG",
    "MAX_CHARS",
    "abstain_reply",
    "answer_reply",
    "answer_text",
    "how_to_apply",
    "label",
    "redacted_reply",
]
