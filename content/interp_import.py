"""Import of policy interpretations (Markdown with YAML front matter).

Privacy is enforced here, before anything reaches the database:
- 此件不公开: only metadata is kept (id, title, document, number, issuer, dates, links);
  no summary, body, keywords or Q&A.
- 此件删减后公开: the ``## 删减部分`` section (to the next ``## `` heading or the end) is cut.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from content.models import Interpretation, QAPair
from content.repository import active_codes, bump_revision
from content.vocab import DISCLOSURE_SECRET, DISCLOSURES, REDACTED_HEADING, STATUS_ABOLISHED, STATUS_CURRENT
from core.errors import Problem, ValidationFailed
from core.limits import (
    MAX_FIELD_CHARS,
    MAX_FRONT_MATTER_BYTES,
    MAX_INTERP_BYTES,
    MAX_QA_PAIRS,
    MAX_TITLE_CHARS,
    column_limit,
    too_long,
)

ID_RE = re.compile(r"^[A-Z]{2,4}-\d{3,6}$")
CODE_RE = re.compile(r"^\d{2}-\d{3}$")
QUESTION_RE = re.compile(r"^\*\*\s*问[：:]\s*(?P<q>.+?)\s*\*\*\s*$")
ANSWER_RE = re.compile(r"^答[：:]\s*(?P<a>.+)$")
REQUIRED = ("id", "title", "published", "interpreted", "disclosure")
WIDTHS = {
    "title": column_limit(Interpretation, "title", MAX_TITLE_CHARS),
    "document": column_limit(Interpretation, "document"),
    "doc_number": column_limit(Interpretation, "doc_number"),
    "issuer": column_limit(Interpretation, "issuer"),
}


class _FrontMatterLoader(yaml.SafeLoader):
    """SafeLoader that leaves dates as text, so a bad date is our error with a line, not a crash.

    It refuses anchors (``&a``) and aliases (``*a``): front matter never needs them, and aliases
    nested in each other expand exponentially (the "billion laughs" bomb). The refusal happens
    as the node is read, before anything is expanded.
    """

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:  # type: ignore[override]
        event = self.peek_event()
        mark: Any = event.start_mark
        if isinstance(event, yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "不允许使用 YAML 别名（*）", mark)
        if getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(None, None, "不允许使用 YAML 锚点（&）", mark)
        return super().compose_node(parent, index)  # type: ignore[no-any-return]


_FrontMatterLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class QA:
    question: str
    answer: str
    line: int | None = None  # of the question, counted in the body


@dataclass
class InterpDoc:
    file: str
    id: str
    title: str
    document: str
    doc_number: str
    issuer: str
    published: dt.date
    interpreted: dt.date
    disclosure: str
    status: str
    items: list[str]
    keywords: list[str]
    summary: str | None
    body: str | None
    qas: list[QA] = field(default_factory=list)
    items_line: int | None = None


def strip_redacted(body: str) -> str:
    """Remove every ``## 删减部分`` section: the heading and all that follows up to the next ``## ``."""
    out: list[str] = []
    skipping = False
    for line in body.splitlines():
        if line.startswith("## "):
            skipping = line[3:].strip().startswith(REDACTED_HEADING)
            if skipping:
                continue
        if not skipping:
            out.append(line)
    return "\n".join(out).strip() + "\n"


def parse_qas(body: str, first_line: int = 1) -> list[QA]:
    """The ``**问：…**`` / ``答：…`` pairs of a body whose first line is line ``first_line`` of its file."""
    lines = [ln.strip() for ln in body.splitlines()]
    qas: list[QA] = []
    for i, line in enumerate(lines):
        m = QUESTION_RE.match(line)
        if not m:
            continue
        j = i + 1
        while j < len(lines) and not lines[j]:
            j += 1
        if j < len(lines) and (a := ANSWER_RE.match(lines[j])):
            qas.append(QA(m.group("q"), a.group("a").strip(), first_line + i))
    return qas


def _summary(body: str) -> str:
    head = body.split("\n## ", 1)[0]
    return "\n".join(ln for ln in head.splitlines() if ln.strip() and not ln.startswith("#")).strip()


def _line_of(front_lines: list[str], key: str) -> int:
    for idx, line in enumerate(front_lines, 2):
        if line.startswith(f"{key}:"):
            return idx
    return 1


def _as_date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def parse_interpretation(path: Path) -> tuple[InterpDoc | None, list[Problem]]:
    file = str(path)
    problems: list[Problem] = []
    if path.stat().st_size > MAX_INTERP_BYTES:
        return None, [Problem(file, None, None, f"文件超过 {MAX_INTERP_BYTES // 1024} KB，请精简或分成几篇")]
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return None, [Problem(file, line, None, "这一行不是 UTF-8 编码：请把整个文件另存为 UTF-8")]
    text = text.replace("\r\n", "\n")
    if not text.startswith("---\n"):
        return None, [Problem(file, 1, None, "文件应以 YAML 头（---）开头")]
    end = text.find("\n---", 4)
    if end < 0:
        return None, [Problem(file, 1, None, "YAML 头没有结束标记（---）")]
    front_text = text[4:end]
    if len(front_text.encode("utf-8")) > MAX_FRONT_MATTER_BYTES:
        return None, [Problem(file, 1, None, f"YAML 头超过 {MAX_FRONT_MATTER_BYTES // 1024} KB")]
    front_lines = front_text.split("\n")
    body = text[end + 4 :].lstrip("\n")
    try:
        meta = yaml.load(front_text, Loader=_FrontMatterLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        return None, [Problem(file, line, None, f"YAML 头格式错误：{getattr(exc, 'problem', exc)}")]
    if not isinstance(meta, dict):
        return None, [Problem(file, 2, None, "YAML 头应为 键: 值 的形式")]

    def bad(key: str, message: str) -> None:
        problems.append(Problem(file, _line_of(front_lines, key), key, message))

    for key in REQUIRED:
        if meta.get(key) in (None, ""):
            bad(key, "必填项为空")
    doc_id = str(meta.get("id") or "")
    if doc_id and not ID_RE.match(doc_id):
        bad("id", f"“{doc_id}”格式不对，应如 JD-001")
    if doc_id and path.stem != doc_id:
        bad("id", f"“{doc_id}”与文件名“{path.name}”不一致")
    dates: dict[str, dt.date] = {}
    for key in ("published", "interpreted"):
        if meta.get(key) in (None, ""):
            continue
        d = _as_date(meta.get(key))
        if d is None:
            bad(key, f"“{meta.get(key)}”不是有效日期（应为 YYYY-MM-DD）")
        else:
            dates[key] = d
    if len(dates) == 2 and dates["interpreted"] < dates["published"]:
        bad("interpreted", "解读日期早于政策文件公开日期")
    disclosure = str(meta.get("disclosure") or "")
    if disclosure and disclosure not in DISCLOSURES:
        bad("disclosure", f"“{disclosure}”不是四种公开属性之一（{'、'.join(DISCLOSURES)}）")
    status = str(meta.get("status") or STATUS_CURRENT)
    if status not in (STATUS_CURRENT, STATUS_ABOLISHED):
        bad("status", f"“{status}”无效，只能是 现行有效 或 已废止")
    items_raw = meta.get("items") or []
    if not isinstance(items_raw, list):
        bad("items", "应为编码列表，如 [19-002, 19-003]")
        items_raw = []
    items = [str(x).strip() for x in items_raw]
    for code in items:
        if not CODE_RE.match(code):
            bad("items", f"“{code}”不是有效的目录编码")
    keywords_raw = meta.get("keywords") or []
    if not isinstance(keywords_raw, list):
        bad("keywords", "应为词语列表")
        keywords_raw = []
    for key in ("title", "document", "doc_number", "issuer"):
        if meta.get(key) is not None and not isinstance(meta.get(key), str | int):
            bad(key, "应为文字")
        elif message := too_long(str(meta.get(key) or ""), WIDTHS[key]):
            bad(key, message)
    for key, values in (("items", items_raw), ("keywords", keywords_raw)):
        for value in values:
            if message := too_long(str(value), MAX_FIELD_CHARS):
                bad(key, message)
    qas = parse_qas(body, first_line=text[: len(text) - len(body)].count("\n") + 1)
    if len(qas) > MAX_QA_PAIRS:
        problems.append(Problem(file, None, None, f"有 {len(qas)} 组问答，超过上限 {MAX_QA_PAIRS} 组"))
    for qa in qas:
        for label, value in (("问", qa.question), ("答", qa.answer)):
            if message := too_long(value, MAX_FIELD_CHARS):
                problems.append(Problem(file, qa.line, label, message))
    if problems:
        return None, problems

    secret = disclosure == DISCLOSURE_SECRET
    public_body = None if secret else strip_redacted(body)
    doc = InterpDoc(
        file=file,
        id=doc_id,
        title=str(meta["title"]).strip(),
        document=str(meta.get("document") or "").strip(),
        doc_number=str(meta.get("doc_number") or "").strip(),
        issuer=str(meta.get("issuer") or "").strip(),
        published=dates["published"],
        interpreted=dates["interpreted"],
        disclosure=disclosure,
        status=status,
        items=items,
        keywords=[] if secret else [str(k).strip() for k in keywords_raw if str(k).strip()],
        summary=None if public_body is None else _summary(public_body),
        body=public_body,
        qas=[] if public_body is None else parse_qas(public_body),
        items_line=_line_of(front_lines, "items"),
    )
    return doc, []


def collect_files(paths: list[str | Path]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(p.glob("*.md")))
        else:
            files.append(p)
    return files


def _values(doc: InterpDoc) -> dict[str, object]:
    return {
        "title": doc.title,
        "document": doc.document,
        "doc_number": doc.doc_number,
        "issuer": doc.issuer,
        "published": doc.published,
        "interpreted": doc.interpreted,
        "disclosure": doc.disclosure,
        "status": doc.status,
        "items": doc.items,
        "keywords": doc.keywords,
        "summary": doc.summary,
        "body": doc.body,
        "source_file": Path(doc.file).name,
    }


@dataclass
class InterpImportReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    metadata_only: list[str] = field(default_factory=list)
    redacted: list[str] = field(default_factory=list)


def import_interpretations(session: Session, paths: list[str | Path]) -> InterpImportReport:
    """Validate every file, then write all of them in the caller's transaction (or nothing)."""
    files = collect_files(paths)
    problems: list[Problem] = []
    docs: list[InterpDoc] = []
    if not files:
        raise ValidationFailed([Problem(", ".join(map(str, paths)), None, None, "没有找到 .md 解读文件")])
    for f in files:
        if not f.is_file():
            problems.append(Problem(str(f), None, None, "文件不存在"))
            continue
        doc, errs = parse_interpretation(f)
        problems.extend(errs)
        if doc:
            docs.append(doc)
    seen: dict[str, str] = {}
    for doc in docs:
        if doc.id in seen:
            problems.append(Problem(doc.file, 2, "id", f"“{doc.id}”与 {seen[doc.id]} 重复"))
        seen[doc.id] = doc.file
    codes = active_codes(session)
    for doc in docs:
        missing = [c for c in doc.items if c not in codes]
        if missing:
            problems.append(Problem(doc.file, doc.items_line, "items", "目录中没有这些编码：" + "、".join(missing)))
    if problems:
        raise ValidationFailed(problems)

    report = InterpImportReport()
    existing = {
        row.id: row
        for row in session.scalars(
            select(Interpretation)
            .where(Interpretation.id.in_([doc.id for doc in docs]))
            .options(selectinload(Interpretation.qas))
        )
    }
    writes: list[tuple[InterpDoc, dict[str, object], list[tuple[str, str]]]] = []
    for doc in docs:  # reads only: the write lock is not taken until every document is decided
        values = _values(doc)
        if doc.disclosure == DISCLOSURE_SECRET:
            report.metadata_only.append(doc.id)
        elif doc.body is not None and "## " + REDACTED_HEADING in doc.body:
            raise AssertionError("redacted section survived stripping")  # defence in depth
        new_qas = [(qa.question, qa.answer) for qa in doc.qas]
        row = existing.get(doc.id)
        if row is None:
            report.added.append(doc.id)
        elif (
            any(getattr(row, k) != v for k, v in values.items())
            or [(qa.question, qa.answer) for qa in row.qas] != new_qas
        ):
            report.updated.append(doc.id)
        else:
            report.unchanged += 1
            continue
        writes.append((doc, values, new_qas))
    for doc, values, new_qas in writes:
        row = existing.get(doc.id)
        if row is None:
            row = Interpretation(id=doc.id, **values)
            session.add(row)
        else:
            for k, v in values.items():
                setattr(row, k, v)
            row.qas.clear()
            session.flush()
        row.qas.extend(QAPair(seq=i, question=q, answer=a) for i, (q, a) in enumerate(new_qas, 1))
    if writes:  # a file set that changes nothing leaves the content revision (and the matcher) alone
        session.flush()
        bump_revision(session)
    return report
