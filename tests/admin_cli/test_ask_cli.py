"""``cunwu ask``: one question and a --batch file, on a real SQLite database with the sample loaded."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Cunwu


def test_ask_one_question(cunwu: Cunwu) -> None:
    cunwu.ok("load-sample")
    out = cunwu.ok("ask", "低保怎么申请").output
    assert "最低生活保障" in out


def test_ask_json(cunwu: Cunwu) -> None:
    cunwu.ok("load-sample")
    data = json.loads(cunwu.ok("ask", "今天天气怎么样", "--json").output)
    assert set(data) == {"answered", "reply", "results", "ms"}
    assert data["answered"] is False
    assert "0883-6712001" in data["reply"]


def test_ask_batch_shape(cunwu: Cunwu, tmp_path: Path) -> None:
    cunwu.ok("load-sample")
    batch = tmp_path / "q.jsonl"
    rows = [
        {"q": "种地补贴一亩多少钱", "village": None, "kind": "colloquial", "expect": ["JD-001"]},
        {"q": "你好", "village": None},
        {"q": "我们村冬春救助的名单贴出来没有", "village": "QH01"},
    ]
    batch.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    lines = [json.loads(line) for line in cunwu.ok("ask", "--batch", str(batch)).output.splitlines()]
    assert len(lines) == len(rows)
    for row, out in zip(rows, lines, strict=True):
        assert {k: out[k] for k in row} == row  # input fields passed through
        assert isinstance(out["answered"], bool) and isinstance(out["reply"], str)
        assert isinstance(out["ms"], (int, float))
        for r in out["results"]:
            assert set(r) == {"kind", "id", "title", "score"}
            assert r["kind"] in ("catalog", "interpretation", "village_item")
    assert lines[0]["answered"] and lines[0]["results"][0]["id"] in ("JD-001", "19-002")
    assert lines[1]["answered"] is False and lines[1]["results"] == []


def test_ask_needs_a_question(cunwu: Cunwu) -> None:
    cunwu.ok("load-sample")
    assert cunwu("ask").exit_code == 2


def test_ask_bad_batch_line(cunwu: Cunwu, tmp_path: Path) -> None:
    cunwu.ok("load-sample")
    batch = tmp_path / "bad.jsonl"
    batch.write_text("not json\n", encoding="utf-8")
    result = cunwu("ask", "--batch", str(batch))
    assert result.exit_code == 1
