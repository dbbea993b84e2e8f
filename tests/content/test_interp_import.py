"""Interpretation import: privacy rules, Q&A parsing, validation with line numbers, atomicity."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from content.interp_import import parse_qas, strip_redacted
from tests.conftest import SAMPLE, Cunwu
from tests.helpers import dump_database

INTERP = SAMPLE / "interpretations"


def _redacted_text() -> str:
    text = (INTERP / "JD-035.md").read_text(encoding="utf-8")
    return text.split("## 删减部分", 1)[1].strip()


def _secret_bodies() -> list[str]:
    out = []
    for name in ("JD-033.md", "JD-034.md"):
        body = (INTERP / name).read_text(encoding="utf-8").split("\n---\n", 1)[1]
        out.extend(line.strip() for line in body.splitlines() if len(line.strip()) > 12)
    return out


@pytest.fixture
def loaded(cunwu: Cunwu) -> Cunwu:
    result = cunwu.ok("load-sample")
    assert "目录：223 个事项（26 个领域）" in result.output
    assert "政策解读：38 篇" in result.output and "不公开 2 篇" in result.output
    return cunwu


def test_sample_interpretations_and_privacy(loaded: Cunwu) -> None:
    data = json.loads(loaded.ok("interp", "list", "--json").output)
    assert len(data) == 38
    by_id = {d["id"]: d for d in data}
    assert {d["id"] for d in data if d["disclosure"] == "此件不公开"} == {"JD-033", "JD-034"}
    assert by_id["JD-031"]["status"] == "已废止" and by_id["JD-007"]["status"] == "现行有效"
    assert by_id["JD-001"]["items"] == ["19-002", "19-003", "19-004"]
    assert by_id["JD-001"]["published"] == "2026-03-10"
    for key in ("id", "title", "disclosure", "status", "items", "published", "interpreted"):
        assert key in by_id["JD-033"]

    secret = json.loads(loaded.ok("interp", "show", "JD-033", "--json").output)
    assert "qas" not in secret and "summary" not in secret
    shown = loaded.ok("interp", "show", "JD-033").output
    assert "正文未保存" in shown

    full = json.loads(loaded.ok("interp", "show", "JD-001", "--json").output)
    assert 4 <= len(full["qas"]) <= 8 and full["qas"][0]["q"].startswith("哪些人")

    redacted = json.loads(loaded.ok("interp", "show", "JD-035", "--json").output)
    assert len(redacted["qas"]) == 6
    assert "删减部分" not in json.dumps(redacted, ensure_ascii=False)


def test_database_file_holds_no_secret_or_redacted_bytes(tmp_path: Path) -> None:
    """The SQLite file's bytes (WAL included); PostgreSQL is checked through queries below."""
    db_path = tmp_path / "bytes.db"
    Cunwu(f"sqlite:///{db_path}").ok("load-sample")
    blob = b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))
    redacted = _redacted_text()
    for fragment in [redacted[i : i + 12] for i in range(0, len(redacted) - 12, 12)]:
        assert fragment.encode() not in blob, fragment
    for line in _secret_bodies():
        assert line.encode() not in blob, line
    assert "18.6万元".encode() not in blob and "协商上限".encode() not in blob


def test_secret_and_redacted_text_not_in_any_table(loaded: Cunwu) -> None:
    dump = json.dumps(dump_database(loaded.url), ensure_ascii=False, default=str)
    assert "协商上限" not in dump and "18.6万元" not in dump and "删减部分" not in dump
    for line in _secret_bodies():
        assert line not in dump


def test_strip_redacted_keeps_later_sections() -> None:
    body = "摘要\n\n## 简明问答\n\n**问：甲？**\n答：乙。\n\n## 删减部分\n\n秘密\n\n## 附件\n\n公开附件\n"
    out = strip_redacted(body)
    assert "秘密" not in out and "删减部分" not in out
    assert "公开附件" in out and "答：乙。" in out
    assert [(q.question, q.answer) for q in parse_qas(out)] == [("甲？", "乙。")]


def _copy_sample(tmp: Path) -> Path:
    target = tmp / "interp"
    shutil.copytree(INTERP, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


BAD = {
    "missing item": (
        "JD-001.md",
        "items: [19-002, 19-003, 19-004]",
        "items: [19-002, 19-099]",
        ":10: items:",
        "19-099",
    ),
    "bad date": ("JD-002.md", "published: 2026-04-01", "published: 2026-13-45", ":7: published:", "有效日期"),
    "unknown disclosure": ("JD-003.md", "disclosure: 此件公开发布", "disclosure: 内部参考", ":9: disclosure:", "四种"),
    "id mismatch": ("JD-004.md", "id: JD-004", "id: JD-104", ":2: id:", "文件名"),
    "broken yaml": ("JD-005.md", "title: ", "title: [unclosed ", ":", "YAML"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_interpretation_rejected_and_database_unchanged(case: str, loaded: Cunwu, tmp_path: Path) -> None:
    folder = _copy_sample(tmp_path)
    name, old, new, where, words = BAD[case]
    _edit(folder / name, old, new)
    before = dump_database(loaded.url)
    result = loaded("interp", "import", str(folder))
    assert result.exit_code == 1, result.output
    assert f"{folder / name}{where}" in result.output, result.output
    assert words in result.output
    assert dump_database(loaded.url) == before


def test_reimport_is_idempotent_and_updates_changes(loaded: Cunwu, tmp_path: Path) -> None:
    folder = _copy_sample(tmp_path)
    again = loaded.ok("interp", "import", str(folder))
    assert "新增 0，更新 0，未变 38" in again.output
    _edit(folder / "JD-001.md", "title: 耕地地力保护补贴政策解读", "title: 耕地地力保护补贴政策解读（更新）")
    changed = loaded.ok("interp", "import", str(folder / "JD-001.md"))
    assert "更新 1" in changed.output
    assert json.loads(loaded.ok("interp", "show", "JD-001", "--json").output)["title"].endswith("（更新）")
