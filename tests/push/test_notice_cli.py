"""Notices through the CLI: import, 发布审查 (a second person, the privacy check), targeting, lifecycle."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Cunwu
from tests.push.conftest import sample_notice


def test_import_needs_a_second_person_to_approve(township: Cunwu) -> None:
    out = township.ok("notice", "import", str(sample_notice("TZ-2026-028")), "--by", "李文书").output
    assert "TZ-2026-028 新增" in out and "微信群 17" in out and "公众号群发 5" in out and "广播 5" in out
    refused = township("notice", "approve", "TZ-2026-028", "--by", "李文书")
    assert refused.exit_code == 1 and "审查人不能是通知的作者" in refused.output
    assert json.loads(township.ok("notice", "list", "--json").output)[0]["status"] == "draft"
    township.ok("notice", "approve", "TZ-2026-028", "--by", "王审核")
    listed = json.loads(township.ok("notice", "list", "--json").output)[0]
    assert listed["status"] == "approved" and listed["approved_by"] == "王审核" and listed["author"] == "李文书"


def test_unapproved_notice_cannot_be_sent(township: Cunwu) -> None:
    township.ok("notice", "import", str(sample_notice("TZ-2026-035")), "--by", "李文书")
    refused = township("notice", "send-now", "TZ-2026-035")
    assert refused.exit_code == 1 and "尚未通过发布审查" in refused.output


def test_privacy_check_refuses_approval(township: Cunwu, tmp_path: Path) -> None:
    text = sample_notice("TZ-2026-030").read_text(encoding="utf-8")
    leaky = text.replace("张*华", "张建华").replace("（0883-6712035）", "（13987654321）")
    path = tmp_path / "TZ-2026-030.yaml"
    path.write_text(leaky, encoding="utf-8")
    township.ok("notice", "import", str(path), "--by", "李文书")
    refused = township("notice", "approve", "TZ-2026-030", "--by", "王审核")
    assert refused.exit_code == 1
    assert "未隐去部分姓名" in refused.output and "私人手机号码" in refused.output
    assert "0883-6712035" not in refused.output  # office numbers are public, never flagged
    # fixing the text through edit makes it pass; the edit is recorded
    path.write_text(text, encoding="utf-8")
    township.ok("notice", "edit", "TZ-2026-030", "--body", "@" + str(_body_file(tmp_path, text)), "--by", "李文书")
    township.ok("notice", "approve", "TZ-2026-030", "--by", "王审核")


def _body_file(tmp_path: Path, text: str) -> Path:
    import yaml

    body = tmp_path / "body.md"
    body.write_text(yaml.safe_load(text)["body"], encoding="utf-8")
    return body


def test_editing_an_approved_notice_sends_it_back_to_draft(township: Cunwu) -> None:
    township.ok("notice", "import", str(sample_notice("TZ-2026-035")), "--by", "李文书")
    township.ok("notice", "approve", "TZ-2026-035", "--by", "王审核")
    township.ok("notice", "edit", "TZ-2026-035", "--title", "新寨村召开村民代表会议的通知（改期）", "--by", "李文书")
    shown = township.ok("notice", "show", "TZ-2026-035").output
    assert "状态：draft" in shown and "已退回草稿" in shown
    assert "李文书 approve" not in shown and "王审核 approve draft→approved" in shown


def test_person_list_goes_only_to_the_village_groups(township: Cunwu, tmp_path: Path) -> None:
    text = (
        sample_notice("TZ-2026-030")
        .read_text(encoding="utf-8")
        .replace("channels: [微信群]", "channels: [微信群, 公众号, 广播]")
    )
    path = tmp_path / "TZ-2026-030.yaml"
    path.write_text(text, encoding="utf-8")
    out = township.ok("notice", "import", str(path), "--by", "李文书").output
    assert "已去掉渠道 公众号" in out and "已去掉渠道 广播" in out
    assert "微信群 1" in out and "公众号群发" not in out.split("发送对象：")[1].splitlines()[0]


def test_unconfigured_channel_is_reported_before_approval(cunwu: Cunwu, push_env: Path) -> None:
    cunwu.ok("load-sample")
    out = cunwu.ok("notice", "import", str(sample_notice("TZ-2026-035")), "--by", "李文书").output
    assert "未配置渠道：新寨村 新寨村村民代表群：未设置群机器人 key" in out
    assert "未设置大喇叭输出文件夹" in out
    refused = cunwu("notice", "approve", "TZ-2026-035", "--by", "王审核")
    assert refused.exit_code == 1 and "未配置渠道" in refused.output


def test_import_is_all_or_nothing(township: Cunwu, tmp_path: Path) -> None:
    bad = tmp_path / "TZ-2026-099.yaml"
    bad.write_text(
        sample_notice("TZ-2026-035")
        .read_text(encoding="utf-8")
        .replace("TZ-2026-035", "TZ-2026-099")
        .replace("QH02", "QH99"),
        encoding="utf-8",
    )
    result = township("notice", "import", str(sample_notice("TZ-2026-028")), str(bad))
    assert result.exit_code == 1 and "QH99" in result.output
    assert json.loads(township.ok("notice", "list", "--json").output) == []


def test_create_cancel_and_history(township: Cunwu) -> None:
    township.ok(
        "notice",
        "create",
        "--id",
        "TZ-2026-050",
        "--kind",
        "会议通知",
        "--title",
        "河边村防汛会议",
        "--body",
        "定于12月9日上午9时在村委会召开防汛会议，请各组组长参加。联系电话0883-6712048。",
        "--villages",
        "QH04",
        "--groups",
        "河边村防汛群",
        "--channels",
        "微信群",
        "--schedule",
        "2026-12-08T09:00:00+08:00",
        "--by",
        "赵干事",
    )
    bad = township(
        "notice",
        "create",
        "--id",
        "TZ-2026-051",
        "--kind",
        "会议通知",
        "--title",
        "t",
        "--body",
        "b",
        "--villages",
        "QH04",
        "--channels",
        "微信群",
        "--schedule",
        "0 25 * * *",
    )
    assert bad.exit_code == 1 and "cron" in bad.output
    township.ok("notice", "approve", "TZ-2026-050", "--by", "王审核")
    township.ok("notice", "cancel", "TZ-2026-050", "--by", "王审核")
    data = json.loads(township.ok("notice", "show", "TZ-2026-050", "--json").output)
    assert data == {"id": "TZ-2026-050", "status": "cancelled", "deliveries": []}
    history = township.ok("notice", "show", "TZ-2026-050").output
    assert "赵干事 create" in history and "王审核 approve" in history and "王审核 cancel" in history


def test_editing_withdraws_pending_deliveries(township: Cunwu) -> None:
    township.ok("notice", "import", str(sample_notice("TZ-2026-035")), "--by", "李文书")
    township.ok("notice", "approve", "TZ-2026-035", "--by", "王审核")
    township.ok("notice", "send-now", "TZ-2026-035")
    township.ok("notice", "edit", "TZ-2026-035", "--title", "新寨村村民代表会议改期通知", "--by", "李文书")
    data = json.loads(township.ok("notice", "show", "TZ-2026-035", "--json").output)
    assert data["status"] == "draft" and {d["state"] for d in data["deliveries"]} == {"cancelled"}
    assert "待发投递已取消" in township.ok("notice", "show", "TZ-2026-035").output


def test_all_samples_import_as_drafts_and_preview(township: Cunwu, tmp_path: Path) -> None:
    from tests.conftest import SAMPLE

    paths = sorted(str(p) for p in (SAMPLE / "notices").glob("TZ-*.yaml"))
    township.ok("notice", "import", *paths, "--by", "李文书")
    listed = json.loads(township.ok("notice", "list", "--json").output)
    assert len(listed) == 10 and {n["status"] for n in listed} == {"draft"}
    assert json.loads(township.ok("notice", "list", "--status", "approved", "--json").output) == []
    preview = township.ok("notice", "preview", "TZ-2026-033").output
    assert "== 微信群 清河村 清河村村民群（text，1 条）==" in preview and "【应急通知】" in preview
    assert "== 大喇叭播音稿（各村相同）==" in preview and "村民朋友们请注意！" in preview
    assert "详情：http://cunwu.test/n/TZ-2026-033" in preview
    reminder = township.ok("notice", "preview", "TZ-2026-028").output
    assert "公示期满，请将结果报镇社会事务办" in reminder
