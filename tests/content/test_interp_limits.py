"""Interpretation files a careful attacker would write: alias bombs, huge files, endless Q&A."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import SAMPLE, Cunwu
from tests.helpers import dump_database

INTERP = SAMPLE / "interpretations"
BOMB = """\
---
id: JD-001
title: 耕地地力保护补贴政策解读
document: 云岭县2026年耕地地力保护补贴实施方案
published: 2026-03-10
interpreted: 2026-03-12
disclosure: 此件公开发布
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
{field}: [*h,*h,*h,*h,*h,*h,*h,*h,*h]
---
正文。
"""


@pytest.fixture
def loaded(cunwu: Cunwu) -> Cunwu:
    cunwu.ok("load-sample")
    return cunwu


def _doc(tmp_path: Path, text: str, name: str = "JD-001.md") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("field", ["keywords", "items"])
def test_alias_bomb_is_refused_at_once(field: str, loaded: Cunwu, migrated_url: str, tmp_path: Path) -> None:
    path = _doc(tmp_path, BOMB.format(field=field))
    before = dump_database(migrated_url)
    started = time.perf_counter()
    result = loaded("interp", "import", str(path))
    elapsed = time.perf_counter() - started
    assert result.exit_code == 1
    assert elapsed < 1.0, elapsed
    assert f"{path}:8: YAML 头格式错误：不允许使用 YAML 锚点（&）" in result.stderr  # the first anchor
    assert dump_database(migrated_url) == before


def test_alias_alone_is_refused_with_its_line(loaded: Cunwu, tmp_path: Path) -> None:
    text = (INTERP / "JD-001.md").read_text(encoding="utf-8").replace("keywords: [", "keywords: [*x, ", 1)
    path = _doc(tmp_path, text)
    result = loaded("interp", "import", str(path))
    assert result.exit_code == 1 and f"{path}:11: YAML 头格式错误：不允许使用 YAML 别名（*）" in result.stderr


def test_sizes_are_bounded(loaded: Cunwu, migrated_url: str, tmp_path: Path) -> None:
    base = (INTERP / "JD-001.md").read_text(encoding="utf-8")
    huge = _doc(tmp_path, base + "\n" + "很长的正文。" * 40_000, "JD-001.md")
    long_title = _doc(tmp_path, base.replace("title: 耕地地力保护补贴政策解读", "title: " + "题" * 201), "JD-002.md")
    long_title.write_text(long_title.read_text(encoding="utf-8").replace("id: JD-001", "id: JD-002"), "utf-8")
    qa = "".join(f"\n**问：第{i}个问题？**\n答：第{i}个回答。\n" for i in range(51))
    many = _doc(tmp_path, base.replace("id: JD-001", "id: JD-003") + qa, "JD-003.md")
    big_front = _doc(
        tmp_path,
        base.replace("id: JD-001", "id: JD-004").replace("keywords: [", "keywords: [" + "词," * 9_000),
        "JD-004.md",
    )
    long_answer = _doc(
        tmp_path, base.replace("id: JD-001", "id: JD-005") + "\n**问：长吗？**\n答：" + "长" * 4_001 + "\n", "JD-005.md"
    )
    before = dump_database(migrated_url)
    result = loaded("interp", "import", str(tmp_path))
    assert result.exit_code == 1
    err = result.stderr
    assert f"{huge}: 文件超过 200 KB" in err
    assert f"{long_title}:3: title: 长度 201 字，超过上限 200 字" in err
    assert f"{many}: 有 {51 + 4} 组问答，超过上限 50 组" in err or f"{many}: 有 " in err
    assert f"{big_front}:1: YAML 头超过 16 KB" in err
    answer_line = long_answer.read_text(encoding="utf-8").splitlines().index("**问：长吗？**") + 1
    assert f"{long_answer}:{answer_line}: 答: 长度 4,001 字，超过上限 4,000 字" in err
    assert dump_database(migrated_url) == before


def test_mixed_encoding_names_the_line(loaded: Cunwu, tmp_path: Path) -> None:
    lines = (INTERP / "JD-001.md").read_text(encoding="utf-8").splitlines(keepends=True)
    path = tmp_path / "JD-001.md"
    path.write_bytes(b"".join(line.encode("gbk" if n == 13 else "utf-8") for n, line in enumerate(lines, 1)))
    result = loaded("interp", "import", str(path))
    assert result.exit_code == 1 and f"{path}:13: 这一行不是 UTF-8 编码" in result.stderr


def _revision(cunwu: Cunwu) -> int:
    from sqlalchemy import text

    from core.db import make_engine

    engine = make_engine(cunwu.url)
    with engine.connect() as conn:
        value = conn.execute(text("SELECT revision FROM content_revision")).scalar_one()
    engine.dispose()
    return int(value)


def test_no_op_reimports_keep_the_content_revision(loaded: Cunwu, tmp_path: Path) -> None:
    revision = _revision(loaded)
    assert "新增 0，更新 0，未变 38" in loaded.ok("interp", "import", str(INTERP)).output
    assert "未变 223" in loaded.ok("catalog", "import", str(SAMPLE / "township_catalog.csv")).output
    assert "未变 5" in loaded.ok("village", "import", str(SAMPLE / "villages.csv")).output
    loaded.ok("village", "import-list", "--dir", str(SAMPLE / "village_lists"))
    assert _revision(loaded) == revision
    changed = _doc(tmp_path, (INTERP / "JD-001.md").read_text(encoding="utf-8").replace("每亩86.50元", "每亩88元"))
    assert "更新 1" in loaded.ok("interp", "import", str(changed)).output
    assert _revision(loaded) == revision + 1
