"""Notice files: the samples load; every kind of mistake is reported with its line and field."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from core.errors import ValidationFailed
from push.notice_file import cron_problems, load_notice

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "qinghe"
NOTICES = sorted((SAMPLE / "notices").glob("TZ-*.yaml"))
GOOD = """id: TZ-2026-900
kind: 会议通知
title: 测试会议
body: |
  定于11月28日开会。
items: []
targets:
  villages: [QH02]
  groups: [新寨村村民代表群]
channels: [微信群, 广播]
schedule: '2026-11-24T10:00:00+08:00'
"""


def write(tmp_path: Path, text: str, name: str = "TZ-2026-900.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("path", NOTICES, ids=lambda p: p.stem)
def test_samples_load(path: Path) -> None:
    notice = load_notice(path, known_codes=_catalog_codes(), known_villages=_village_groups())
    assert notice.id == path.stem
    assert (notice.send_at is None) == (notice.cron is not None)


def _catalog_codes() -> set[str]:
    lines = (SAMPLE / "township_catalog.csv").read_text(encoding="utf-8").splitlines()[1:]
    return {line.split(",", 1)[0] for line in lines}


def _village_groups() -> dict[str, list[str]]:
    import csv

    with (SAMPLE / "villages.csv").open(encoding="utf-8") as handle:
        return {row["村编码"]: row["微信群"].split("；") for row in csv.DictReader(handle)}


def test_fields_of_a_good_file(tmp_path: Path) -> None:
    notice = load_notice(write(tmp_path, GOOD))
    assert notice.kind == "会议通知"
    assert notice.villages == ("QH02",)
    assert notice.groups == ("新寨村村民代表群",)
    assert notice.channels == ("微信群", "广播")
    assert notice.send_at == dt.datetime(2026, 11, 24, 10, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert not notice.urgent


def test_cron_notice(tmp_path: Path) -> None:
    text = GOOD.replace("'2026-11-24T10:00:00+08:00'", "'0 19 * * *'\nrepeat: cron\nvalid_from: '2026-12-01'")
    notice = load_notice(write(tmp_path, text))
    assert notice.cron == "0 19 * * *" and notice.send_at is None
    assert notice.valid_from == dt.date(2026, 12, 1)


# (replace this, with that) → (field, words in the message)
BAD = [
    (("id: TZ-2026-900", "id: TZ-26-900"), ("id", "格式")),
    (("id: TZ-2026-900", "id: TZ-2026-901"), ("id", "文件名")),
    (("kind: 会议通知", "kind: 闲聊"), ("kind", "不在")),
    (("title: 测试会议\n", ""), ("title", "缺少")),
    (("items: []", "items: [19-3]"), ("items", "格式")),
    (("items: []", "items: [99-999]"), ("items", "目录")),
    (("channels: [微信群, 广播]", "channels: [微信群, 短信]"), ("channels", "短信")),
    (("channels: [微信群, 广播]", "channels: [微信群, 微信群]"), ("channels", "重复")),
    (("channels: [微信群, 广播]", "channels: []"), ("channels", "不能为空")),
    (("'2026-11-24T10:00:00+08:00'", "'2026-11-24T10:00:00'"), ("schedule", "时区")),
    (("'2026-11-24T10:00:00+08:00'", "'下周一'"), ("schedule", "cron")),
    (("'2026-11-24T10:00:00+08:00'", "'0 19 * * *'"), ("schedule", "repeat")),
    (("'2026-11-24T10:00:00+08:00'", "'0 25 * * *'\nrepeat: cron"), ("schedule", "小时")),
    (("'2026-11-24T10:00:00+08:00'", "'2026-11-24T10:00:00+08:00'\nrepeat: weekly"), ("repeat", "cron")),
    (("'2026-11-24T10:00:00+08:00'", "'2026-11-24T10:00:00+08:00'\npriority: high"), ("priority", "urgent")),
    (("'2026-11-24T10:00:00+08:00'", "'2026-11-24T10:00:00+08:00'\npublicity_days: -3"), ("publicity_days", "正整数")),
    (("'2026-11-24T10:00:00+08:00'", "'2026-11-24T10:00:00+08:00'\ncolour: red"), ("colour", "未知")),
    (("villages: [QH02]", "villages: [QH09]"), ("targets.villages", "不存在")),
    (("villages: [QH02]", "villages: some"), ("targets.villages", "all")),
    (("groups: [新寨村村民代表群]", "groups: [别村的群]"), ("targets.groups", "不属于")),
    (("kind: 会议通知", "kind: 应急通知"), ("channels", "广播")),
    (("kind: 会议通知", "kind: 社会救助公示\n"), None),
]


@pytest.mark.parametrize(("change", "expected"), BAD)
def test_problems_name_line_and_field(
    tmp_path: Path, change: tuple[str, str], expected: tuple[str, str] | None
) -> None:
    text = GOOD.replace(*change)
    assert text != GOOD
    known = {"QH02": ["新寨村村民群", "新寨村村民代表群"]}
    if expected is None:
        load_notice(write(tmp_path, text), known_codes={"19-003"}, known_villages=known)
        return
    with pytest.raises(ValidationFailed) as caught:
        load_notice(write(tmp_path, text), known_codes={"19-003"}, known_villages=known)
    field, words = expected
    problems = [p for p in caught.value.problems if p.column == field]
    assert problems, caught.value.problems
    assert any(words in p.message for p in problems), problems
    assert all(p.file.endswith("TZ-2026-900.yaml") for p in caught.value.problems)
    assert all(p.line is not None and p.line >= 1 for p in problems)


def test_line_number_points_at_the_field(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed) as caught:
        load_notice(write(tmp_path, GOOD.replace("kind: 会议通知", "kind: 闲聊")))
    assert caught.value.problems[0].line == 2


def test_all_problems_at_once(tmp_path: Path) -> None:
    text = GOOD.replace("kind: 会议通知", "kind: 闲聊").replace("channels: [微信群, 广播]", "channels: [短信]")
    with pytest.raises(ValidationFailed) as caught:
        load_notice(write(tmp_path, text))
    assert {p.column for p in caught.value.problems} == {"kind", "channels"}


def test_person_list_loads_and_targeting_drops_channels(tmp_path: Path) -> None:
    """The file is valid; ``push.targeting`` drops 公众号 and 广播 for it and says so (tests/push/test_targeting.py)."""
    text = GOOD.replace("kind: 会议通知", "kind: 社会救助公示").replace("定于11月28日开会。", "张*华拟纳入低保。")
    notice = load_notice(write(tmp_path, text))
    assert notice.kind == "社会救助公示" and "广播" in notice.channels


def test_broken_yaml_and_wrong_shape(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed) as caught:
        load_notice(write(tmp_path, "id: [unclosed\n"))
    assert "YAML" in caught.value.problems[0].message
    with pytest.raises(ValidationFailed):
        load_notice(write(tmp_path, "- a\n- b\n"))


@pytest.mark.parametrize(
    ("expression", "ok"),
    [
        ("0 19 * * *", True),
        ("0 9 10 12 *", True),
        ("*/15 8-18 * * 1-5", True),
        ("0 9 * * 7", True),
        ("60 9 * * *", False),
        ("0 9 32 * *", False),
        ("0 9 * 13 *", False),
        ("0 9 * *", False),
        ("a b c d e", False),
        ("*/0 * * * *", False),
        ("5-1 * * * *", False),
    ],
)
def test_cron_expressions(expression: str, ok: bool) -> None:
    assert (cron_problems(expression) == []) == ok
