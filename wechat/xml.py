"""The one XML reader for what WeChat posts, and the one writer for the XML we (or WeChat) send.

:func:`parse_xml` is expat with every entity and DOCTYPE refused (no billion laughs, no external
entities), bounded in size, depth and element count, and it raises nothing but
:class:`~wechat.errors.InvalidRequest`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.parsers import expat

from wechat.errors import InvalidRequest

MAX_XML_BYTES = 64 * 1024
"""Inbound XML larger than this is refused (WeChat's own messages are a few KiB at most)."""
MAX_DEPTH = 8
"""Deepest element nesting accepted (``xml > SendPicsInfo > PicList > item > PicMd5Sum`` is 5)."""
MAX_ELEMENTS = 512
MAX_FIELD_CHARS = 16 * 1024

XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""Characters XML 1.0 cannot carry at all; removed from anything we render."""


class _Refused(Exception):
    pass


@dataclass
class _Node:
    tag: str
    children: list[tuple[str, Any]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)


def _to_text(data: str | bytes) -> str:
    """``data`` as text, refused when it is not text, not UTF-8 or over :data:`MAX_XML_BYTES`."""
    if isinstance(data, str):
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError as exc:  # lone surrogates
            raise InvalidRequest("微信消息含有无效字符", detail=str(exc)) from exc
    elif isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
    else:
        raise InvalidRequest("微信消息类型错误", detail=type(data).__name__)
    if len(raw) > MAX_XML_BYTES:
        raise InvalidRequest("微信消息过大", detail=f"{len(raw)} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest("微信消息不是 UTF-8 编码", detail=str(exc)) from exc


def parse_xml(data: str | bytes) -> dict[str, Any]:
    """Read ``<xml>…</xml>`` into a dict: leaf → str, nested element → dict, repeated nested tag → list.

    Refuses (``InvalidRequest``): non-UTF-8 bytes, bodies over :data:`MAX_XML_BYTES`, any DOCTYPE
    or entity declaration, a root other than ``xml``, a repeated top-level tag, nesting deeper
    than :data:`MAX_DEPTH`, more than :data:`MAX_ELEMENTS` elements, text mixed with elements.
    """
    text = _to_text(data)
    stack: list[_Node] = []
    result: dict[str, Any] = {}
    count = 0

    def start(tag: str, _attrs: Any) -> None:
        nonlocal count
        count += 1
        if count > MAX_ELEMENTS:
            raise _Refused("too many elements")
        if len(stack) >= MAX_DEPTH:
            raise _Refused("nested too deeply")
        if not stack and tag != "xml":
            raise _Refused(f"root element is <{tag[:40]}>, not <xml>")
        stack.append(_Node(tag))

    def end(_tag: str) -> None:
        node = stack.pop()
        if node.children:
            if "".join(node.text).strip():
                raise _Refused(f"text mixed with elements in <{node.tag[:40]}>")
            value: Any = {}
            for tag, child in node.children:
                if tag in value:
                    if not stack:  # top-level fields must be unique
                        raise _Refused(f"repeated tag <{tag[:40]}>")
                    if not isinstance(value[tag], list):
                        value[tag] = [value[tag]]
                    value[tag].append(child)
                else:
                    value[tag] = child
        else:
            value = "".join(node.text)
        if stack:
            stack[-1].children.append((node.tag, value))
        else:
            result["xml"] = value if isinstance(value, dict) else {}

    def chars(data: str) -> None:
        if stack:
            stack[-1].text.append(data)

    def refuse(*_args: Any) -> Any:
        raise _Refused("DOCTYPE and entity declarations are not allowed")

    parser = expat.ParserCreate(encoding="utf-8")
    parser.buffer_text = True
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(text, True)
    except _Refused as exc:
        raise InvalidRequest("微信消息格式不正确", detail=str(exc)) from None
    except expat.ExpatError as exc:
        raise InvalidRequest("微信消息不是有效的 XML", detail=str(exc)) from None
    except (ValueError, UnicodeError, OverflowError, RecursionError) as exc:  # defensive
        raise InvalidRequest("微信消息不是有效的 XML", detail=type(exc).__name__) from None
    if "xml" not in result:
        raise InvalidRequest("微信消息不是有效的 XML", detail="no <xml> root")
    root: dict[str, Any] = result["xml"]
    return root


def text_field(raw: dict[str, Any], name: str, *, required: bool = False, limit: int = MAX_FIELD_CHARS) -> str:
    """One leaf field of a parsed document (``""`` when absent); refused when nested, too long or missing."""
    value = raw.get(name)
    if value is None:
        if required:
            raise InvalidRequest("微信消息缺少字段", detail=name)
        return ""
    if not isinstance(value, str):
        raise InvalidRequest("微信消息字段格式不正确", detail=f"{name} is not plain text")
    if len(value) > limit:
        raise InvalidRequest("微信消息字段过长", detail=name)
    if required and not value.strip():
        raise InvalidRequest("微信消息缺少字段", detail=name)
    return value


def cdata(value: str) -> str:
    """``value`` as CDATA: XML-illegal characters removed, ``]]>`` split across two sections."""
    clean = XML_ILLEGAL.sub("", value)
    return "<![CDATA[" + clean.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def render_xml(fields: Mapping[str, str | int]) -> str:
    """``<xml>`` with one element a field, as WeChat writes them: numbers bare, text as CDATA."""
    body = "".join(f"<{k}>{v if isinstance(v, int) else cdata(v)}</{k}>" for k, v in fields.items())
    return f"<xml>{body}</xml>"
