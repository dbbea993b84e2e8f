"""A push notice written as a YAML file (examples/qinghe/notices/TZ-2026-028.yaml): load and validate it.

Every problem found is reported at once, as ``core.errors.ValidationFailed`` whose ``Problem`` entries name the
file, the line and the field (``column``), with a Chinese message. Item codes can be checked against the
catalog when the caller passes ``known_codes``; target villages and groups when it passes ``known_villages``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from core.errors import Problem, ValidationFailed

KINDS = ("补贴发放", "社会救助公示", "村级财务公开", "政策宣传", "应急通知", "会议通知")
CHANNELS = ("公众号", "微信群", "广播")
FIELDS = (
    "id",
    "kind",
    "title",
    "body",
    "items",
    "targets",
    "channels",
    "schedule",
    "repeat",
    "valid_from",
    "valid_until",
    "publicity_days",
    "priority",
)
REQUIRED = ("id", "kind", "title", "body", "items", "targets", "channels", "schedule")

_ID = re.compile(r"^TZ-\d{4}-\d{3}$")
_ITEM_CODE = re.compile(r"^\d{2}-\d{3}$")
# minute, hour, day of month, month, day of week
_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_CRON_NAMES = ("分钟", "小时", "日", "月", "星期")


@dataclass(frozen=True)
class NoticeFile:
    """One validated notice. ``villages`` is ``"all"`` or a tuple of village codes."""

    path: Path
    id: str
    kind: str
    title: str
    body: str
    items: tuple[str, ...]
    villages: Literal["all"] | tuple[str, ...]
    groups: tuple[str, ...]
    channels: tuple[str, ...]
    schedule: str
    send_at: dt.datetime | None
    cron: str | None
    repeat: str | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    publicity_days: int | None = None
    priority: str | None = None

    @property
    def urgent(self) -> bool:
        """Marked ``priority: urgent``, or an emergency notice."""
        return self.priority == "urgent" or self.kind == "应急通知"

    def village_codes(self, all_codes: Collection[str]) -> tuple[str, ...]:
        """The target village codes, with ``all`` expanded to ``all_codes``."""
        return tuple(all_codes) if self.villages == "all" else self.villages


class _Checker:
    def __init__(self, path: Path, lines: Mapping[str, int]) -> None:
        self.path = path
        self.lines = lines
        self.problems: list[Problem] = []

    def add(self, field: str, message: str, line: int | None = None) -> None:
        top = field.split(".")[0]
        self.problems.append(Problem(str(self.path), line or self.lines.get(top), field, message))


def load_notice(
    path: str | Path,
    *,
    known_codes: Collection[str] | None = None,
    known_villages: Mapping[str, Collection[str]] | None = None,
) -> NoticeFile:
    """Read and validate one notice file.

    ``known_codes``: catalog item codes; when given, every ``items`` entry must be one of them.
    ``known_villages``: village code → its WeChat group names; when given, target villages and groups are checked.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed([Problem(str(path), None, None, f"无法读取通知文件：{exc}")]) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ValidationFailed([Problem(str(path), line, None, f"YAML 格式错误：{exc}")]) from exc
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise ValidationFailed([Problem(str(path), 1, None, "通知文件应为字段: 值 形式的 YAML 映射")])
    lines = {str(key.value): key.start_mark.line + 1 for key, _ in node.value}
    check = _Checker(path, lines)
    notice = _validate(data, check, path, known_codes, known_villages)
    if check.problems or notice is None:
        raise ValidationFailed(check.problems, f"通知文件 {path.name} 有 {len(check.problems)} 处错误")
    return notice


def validate_mapping(
    data: dict[str, Any],
    path: str | Path,
    *,
    known_codes: Collection[str] | None = None,
    known_villages: Mapping[str, Collection[str]] | None = None,
) -> NoticeFile:
    """Validate a notice given as a mapping (created or edited from the CLI) exactly as a file is validated."""
    path = Path(path)
    check = _Checker(path, {})
    notice = _validate(dict(data), check, path, known_codes, known_villages)
    if check.problems or notice is None:
        raise ValidationFailed(check.problems, f"通知 {path.stem} 有 {len(check.problems)} 处错误")
    return notice


def _validate(
    data: dict[str, Any],
    check: _Checker,
    path: Path,
    known_codes: Collection[str] | None,
    known_villages: Mapping[str, Collection[str]] | None,
) -> NoticeFile | None:
    for key in data:
        if str(key) not in FIELDS:
            check.add(str(key), f"未知字段“{key}”，可用字段：{'、'.join(FIELDS)}")
    for key in REQUIRED:
        if data.get(key) is None:
            check.add(key, "缺少必填字段", line=1)

    notice_id = _text(data, "id", check)
    if notice_id and not _ID.match(notice_id):
        check.add("id", f"编号“{notice_id}”格式应为 TZ-YYYY-NNN")
    elif notice_id and notice_id != path.stem:
        check.add("id", f"编号“{notice_id}”与文件名“{path.name}”不一致")

    kind = _text(data, "kind", check)
    if kind and kind not in KINDS:
        check.add("kind", f"类型“{kind}”不在 {'、'.join(KINDS)} 之中")

    title = _text(data, "title", check)
    body = _text(data, "body", check)

    items = _string_list(data, "items", check, allow_empty=True)
    for code in items:
        if not _ITEM_CODE.match(code):
            check.add("items", f"目录编码“{code}”格式应为 NN-SSS")
        elif known_codes is not None and code not in known_codes:
            check.add("items", f"目录编码“{code}”不在政务公开事项目录中")

    villages, groups = _targets(data.get("targets"), check, known_villages)

    channels = _string_list(data, "channels", check, allow_empty=False)
    for channel in channels:
        if channel not in CHANNELS:
            check.add("channels", f"渠道“{channel}”不在 {'、'.join(CHANNELS)} 之中")
    if len(set(channels)) != len(channels):
        check.add("channels", "渠道重复")
    if kind == "应急通知" and channels and channels[0] != "广播":
        check.add("channels", "应急通知的渠道应以“广播”开头")

    repeat = data.get("repeat")
    if repeat is not None and repeat != "cron":
        check.add("repeat", f"repeat 只能是 cron，现为“{repeat}”")
    schedule, send_at, cron = _schedule(data.get("schedule"), repeat, check)

    valid_from = _date(data, "valid_from", check)
    valid_until = _date(data, "valid_until", check)
    if (valid_from or valid_until) and cron is None and schedule:
        check.add("valid_from" if valid_from else "valid_until", "生效起止日期只用于按 cron 重复的通知")
    if valid_from and valid_until and valid_until < valid_from:
        check.add("valid_until", f"截止日期 {valid_until} 早于生效日期 {valid_from}")

    publicity_days = data.get("publicity_days")
    if publicity_days is not None and (
        isinstance(publicity_days, bool) or not isinstance(publicity_days, int) or publicity_days <= 0
    ):
        check.add("publicity_days", f"公示期天数应为正整数，现为“{publicity_days}”")
        publicity_days = None

    priority = data.get("priority")
    if priority is not None and priority != "urgent":
        check.add("priority", f"priority 只能是 urgent，现为“{priority}”")

    if check.problems:
        return None
    return NoticeFile(
        path=path,
        id=notice_id or "",
        kind=kind or "",
        title=title or "",
        body=body or "",
        items=tuple(items),
        villages=villages,
        groups=tuple(groups),
        channels=tuple(channels),
        schedule=schedule,
        send_at=send_at,
        cron=cron,
        repeat=repeat,
        valid_from=valid_from,
        valid_until=valid_until,
        publicity_days=publicity_days,
        priority=priority,
    )


def _text(data: Mapping[str, Any], key: str, check: _Checker) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        check.add(key, "应为非空文本")
        return None
    return value.strip() if key != "body" else value


def _string_list(data: Mapping[str, Any], key: str, check: _Checker, *, allow_empty: bool) -> list[str]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        check.add(key, "应为文本列表，如 [a, b]")
        return []
    if not value and not allow_empty:
        check.add(key, "不能为空")
    return [v.strip() for v in value]


def _targets(
    value: Any, check: _Checker, known_villages: Mapping[str, Collection[str]] | None
) -> tuple[Literal["all"] | tuple[str, ...], list[str]]:
    if value is None:
        return (), []
    if not isinstance(value, dict):
        check.add("targets", "targets 应包含 villages（村编码列表或 all）和可选的 groups")
        return (), []
    for key in value:
        if key not in ("villages", "groups"):
            check.add(f"targets.{key}", f"未知字段“{key}”")
    raw = value.get("villages")
    villages: Literal["all"] | tuple[str, ...]
    if raw == "all":
        villages = "all"
    elif isinstance(raw, list) and raw and all(isinstance(v, str) and v.strip() for v in raw):
        villages = tuple(v.strip() for v in raw)
        if known_villages is not None:
            for code in villages:
                if code not in known_villages:
                    check.add("targets.villages", f"村编码“{code}”不存在")
    else:
        check.add("targets.villages", "应为村编码列表（如 [QH01, QH02]）或 all")
        villages = ()
    groups_raw = value.get("groups") or []
    if not isinstance(groups_raw, list) or not all(isinstance(g, str) and g.strip() for g in groups_raw):
        check.add("targets.groups", "应为微信群名称列表")
        return villages, []
    groups = [g.strip() for g in groups_raw]
    if known_villages is not None and groups:
        codes = list(known_villages) if villages == "all" else villages
        allowed = {g for code in codes for g in known_villages.get(code, ())}
        for group in groups:
            if group not in allowed:
                check.add("targets.groups", f"微信群“{group}”不属于目标村")
    return villages, groups


def _schedule(value: Any, repeat: Any, check: _Checker) -> tuple[str, dt.datetime | None, str | None]:
    if value is None:
        return "", None, None
    if isinstance(value, dt.datetime):
        value = value.isoformat()
    if not isinstance(value, str) or not value.strip():
        check.add("schedule", "应为带时区的 ISO 8601 时间或 5 段 cron 表达式")
        return "", None, None
    text = value.strip()
    fields = text.split()
    if len(fields) == 5:
        for problem in cron_problems(text):
            check.add("schedule", problem)
        if repeat != "cron":
            check.add("schedule", "cron 表达式的通知必须同时写 repeat: cron")
        return text, None, text
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        check.add("schedule", f"“{text}”既不是 ISO 8601 时间（如 2026-11-25T09:00:00+08:00）也不是 5 段 cron 表达式")
        return text, None, None
    if when.tzinfo is None:
        check.add("schedule", f"时间“{text}”缺少时区，应写成如 2026-11-25T09:00:00+08:00")
        return text, None, None
    if repeat == "cron":
        check.add("repeat", "repeat: cron 需要 5 段 cron 表达式的 schedule")
    return text, when, None


def cron_problems(expression: str) -> list[str]:
    """What is wrong with a 5-field cron expression (minute hour day month weekday); empty when it is valid."""
    fields = expression.split()
    if len(fields) != 5:
        return [f"cron 表达式应有 5 段，现有 {len(fields)} 段"]
    problems = []
    for text, (low, high), name in zip(fields, _CRON_RANGES, _CRON_NAMES, strict=True):
        if not _cron_field_ok(text, low, high):
            problems.append(f"cron 的“{name}”段“{text}”无效（取值 {low}–{high}，可用 * , - /）")
    return problems


def _cron_field_ok(text: str, low: int, high: int) -> bool:
    for part in text.split(","):
        base, slash, step = part.partition("/")
        if slash and (not step.isdigit() or int(step) == 0):
            return False
        if base == "*":
            continue
        start, dash, end = base.partition("-")
        if not start.isdigit() or (dash and not end.isdigit()):
            return False
        first, last = int(start), int(end) if dash else int(start)
        if not (low <= first <= high and low <= last <= high and first <= last):
            return False
    return True


def _date(data: Mapping[str, Any], key: str, check: _Checker) -> dt.date | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    check.add(key, f"日期“{value}”应写成 YYYY-MM-DD")
    return None
