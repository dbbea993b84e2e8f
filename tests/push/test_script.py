"""Notices rewritten to be heard: tables, privacy, openings and closings, and every sample notice."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from push.notice_file import NoticeFile, load_notice
from push.speech.privacy import scrub
from push.speech.script import ATTENTION, MAX_SENTENCE, REPEAT_LINE, build_script, spoken
from push.speech.tables import Table, summarise_people, table_sentences

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "qinghe"
NOTICES = sorted((SAMPLE / "notices").glob("TZ-*.yaml"))
MARKDOWN = re.compile(r"[|#*`_~\[\]<>=\-—]|\*\*")


def notice(
    body: str, *, kind: str = "补贴发放", priority: str | None = None, channels=("微信群", "广播")
) -> NoticeFile:
    return NoticeFile(
        path=Path("TZ-2026-900.yaml"),
        id="TZ-2026-900",
        kind=kind,
        title="测试通知",
        body=body,
        items=(),
        villages=("QH01",),
        groups=(),
        channels=tuple(channels),
        schedule="2026-11-25T09:00:00+08:00",
        send_at=None,
        cron=None,
        priority=priority,
    )


def cadre_names() -> set[str]:
    """Every 责任人 name in the sample village lists: none may ever be read."""
    names = set()
    for path in (SAMPLE / "village_lists").glob("*.csv"):
        with path.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                names.add(row["责任人"].split("（")[0].strip())
    assert len(names) >= 5
    return names


# (text, what the spoken form must contain, what it must not contain)
SPOKEN_CASES = [
    ("对账目有疑问的，可向村务监督委员会主任王德明反映。", "村务监督委员会主任反映", "王德明"),
    ("联系人：杨光荣，电话0883-6712702。", "联系电话零八八三，六七幺二七零二", "杨光荣"),
    ("其中鲁*明的救助金额超过低保月标准6倍。", "其中一位村民的救助金额", "鲁"),
    ("张*华、李*芬已纳入。", "一位村民", "*"),
    ("欧阳*华户已核实。", "一位村民", "欧阳"),
    ("李**申请临时救助。", "一位村民申请临时救助", "李"),
    ("身份证号530123199001011234，请核对。", "请核对", "五三零"),
    ("身份证号码：5301**********1234。", "", "一二三四"),
    ("银行卡号6228 4800 1234 5678 901。", "", "六二二八"),
    ("补贴已发到卡号6217***********1234的账户。", "的账户", "六二幺七"),
    ("详见[县政府网站](https://www.example.gov.cn/a.html)。", "详见县政府网站", "http"),
    ("网址 https://www.example.gov.cn 可查。", "可查", "www"),
    ("**重要**：请按时参会。", "重要", "*"),
    (
        "根据《云岭县2026年耕地地力保护补贴实施方案》（云农发〔2026〕12号），现公示。",
        "根据云岭县二零二六年耕地地力保护补贴实施方案",
        "〔",
    ),
    ("请向清河镇社会事务办（0883-6712035）反映。", "清河镇社会事务办，电话零八八三，六七幺二零三五", "（"),
    ("会议定于2026年11月28日（星期六）下午14:30召开。", "二零二六年十一月二十八日，星期六，下午两点三十分", "14"),
    ("惠农“一卡通”。", "惠农一卡通", "“"),
]


@pytest.mark.parametrize(("text", "present", "absent"), SPOKEN_CASES)
def test_spoken_text(text: str, present: str, absent: str) -> None:
    out = "".join(spoken(text))
    assert present in out
    assert absent not in out
    assert not re.search(r"[0-9]", out)


def test_scrub_keeps_role_words_that_are_not_names() -> None:
    assert scrub("请书记和主任向村民说明。") == "请书记和主任向村民说明。"
    assert scrub("在某地发现火情") == "在某地发现火情"


def test_known_names_are_removed_everywhere() -> None:
    assert "张三丰" not in "".join(spoken("张三丰负责收款。", known_names=["张三丰"]))


TABLE = """| 村 | 补贴户数 | 稻谷面积（亩） | 补贴金额（元） |
|---|---|---|---|
| 芒洪村 | 476 | 3,958.50 | 126,672.00 |
| 合计 | 778 | 6,074.50 | 194,384.00 |"""


def test_table_rows_become_sentences_with_units() -> None:
    rows = table_sentences(Table.parse(TABLE.splitlines()))
    assert rows[0] == "芒洪村，476户，稻谷面积3,958.50亩，补贴金额126,672.00元。"
    heard = "".join(spoken(rows[0]))
    assert heard.startswith("芒洪村，四百七十六户，稻谷面积三千九百五十八点五亩")
    assert "补贴金额十二万六千六百七十二元" in heard


def test_two_column_table_takes_the_unit_of_its_caption() -> None:
    script = build_script(notice("一、本季度收入（元）\n\n| 项目 | 金额 |\n|---|---|\n| 存款利息 | 126.35 |\n"))
    assert "存款利息，一百二十六元三角五分。" in script.body
    assert "一、本季度收入。" in script.body


def test_per_unit_heading() -> None:
    table = Table.parse(["| 项目 | 基本生活费（元/月） |", "|---|---|", "| 特困供养 | 631 |"])
    assert "".join(spoken(table_sentences(table)[0])) == "特困供养，每月六百三十一元。"


PEOPLE = """| 户主 | 村民小组 | 拟月保障金额（元） |
|---|---|---|
| 张*华 | 新寨村二组 | 840 |
| 李*芬 | 新寨村四组 | 485 |
| 合计 | 2户 | 1,325 |"""


def test_person_table_is_summarised_never_read() -> None:
    table = Table.parse(PEOPLE.splitlines())
    assert table.lists_people
    summary = "".join(summarise_people(table, posted_at=("村公示栏", "村民微信群")))
    assert "共2户" in summary
    assert "1,325元" in summary
    assert "村公示栏" in summary and "村民微信群" in summary
    assert "张" not in summary and "新寨村二组" not in summary


def test_person_table_total_is_summed_when_no_total_row() -> None:
    lines = ["| 姓名 | 救助金额（元） |", "|---|---|", "| 王*一 | 1,000 |", "| 赵*二 | 500.50 |"]
    summary = "".join(summarise_people(Table.parse(lines)))
    assert "共2人" in summary and "1500.50元" in summary


@pytest.mark.parametrize("heading", ["姓名", "户主", "申请人", "救助对象", "对象姓名"])
def test_person_headings(heading: str) -> None:
    table = Table.parse([f"| {heading} | 金额（元） |", "|---|---|", "| 某某 | 100 |"])
    assert table.lists_people
    script = build_script(notice(f"公示如下：\n\n| {heading} | 金额（元） |\n|---|---|\n| 王*明 | 100 |\n"))
    assert "王" not in script.text and "一百元" in script.text


def test_lists_headings_and_emphasis_are_removed() -> None:
    script = build_script(notice("## 注意事项\n\n- 第一条，**带好**证件。\n- 第二条，按时到场。\n1. 见 `附件`。\n"))
    assert "注意事项。" in script.body
    assert "第一条，带好证件。" in script.body
    assert not MARKDOWN.search(script.text)


def test_long_sentences_are_split_but_phone_numbers_are_not() -> None:
    body = (
        "对本户面积或金额有异议的请在公示期内向村委会反映，或者拨打清河镇农业农村服务中心电话0883-6712048，"
        "县农业农村局监督电话0883-6126201，我们会在三个工作日内答复。"
    )
    script = build_script(notice(body))
    assert all(len(s) <= MAX_SENTENCE or "，" not in s for s in script.body)
    assert any("零八八三，六七幺二零四八" in s for s in script.body)


@pytest.mark.parametrize(
    ("kind", "priority", "opening"),
    [
        ("应急通知", "urgent", "现在播送紧急通知。"),
        ("应急通知", None, "现在播送紧急通知。"),
        ("补贴发放", None, "村民朋友们，现在播送一则补贴公示。"),
        ("会议通知", None, "各位村民，现在播送一则会议通知。"),
        ("政策宣传", None, "乡亲们，现在播送一则政策宣传。"),
        ("村级财务公开", None, "村民朋友们，现在公开村级财务收支情况。"),
        ("社会救助公示", None, "村民朋友们，现在播送一则社会救助公示。"),
        ("补贴发放", "urgent", "村民朋友们，现在播送一则补贴公示。"),
    ],
)
def test_openings(kind: str, priority: str | None, opening: str) -> None:
    script = build_script(notice("请大家相互转告。", kind=kind, priority=priority))
    urgent = priority == "urgent" or kind == "应急通知"
    assert script.opening[:2] == ((ATTENTION, ATTENTION) if urgent else script.opening[:2])
    assert opening in script.opening
    assert (ATTENTION in script.opening) == urgent
    assert (REPEAT_LINE in script.sentences) == (priority == "urgent")


def test_urgent_notice_is_played_twice() -> None:
    script = build_script(notice("发现山火请拨打12119。", kind="应急通知", priority="urgent"))
    once = len(script.opening) + len(script.body) + len(script.closing)
    assert script.sentences[once] == REPEAT_LINE
    assert script.sentences[:once] == script.sentences[once + 1 :]


def test_closing_repeats_period_objection_and_phone() -> None:
    body = "公示期为2026年11月25日至12月1日，共7天。对公示内容有异议的，请拨打0883-6712035反映。"
    script = build_script(notice(body))
    closing = "".join(script.closing)
    assert "公示期为二零二六年十一月二十五日至十二月一日" in closing
    assert "有异议" in closing
    assert "联系电话：零八八三，六七幺二零三五。" in closing


@pytest.mark.parametrize("path", NOTICES, ids=lambda p: p.stem)
def test_sample_notice_scripts_are_clean(path: Path) -> None:
    n = load_notice(path)
    script = build_script(n)
    text = script.text
    assert not re.search(r"[0-9０-９]", text), text
    assert not MARKDOWN.search(text), text
    assert not re.search(r"[A-Za-z]", text), text
    assert "*" not in text and "＊" not in text
    masked = set(re.findall(r"([\u4e00-\u9fff])\*([\u4e00-\u9fff])", n.body))
    for first, last in masked:
        assert not re.search(first + "." + last, text)
    for name in ["王德明", "杨光荣", *cadre_names()]:
        assert name not in text, name
    assert script.title.rstrip("。") in text
    assert script.closing[0] == "重要内容再说一遍。"


def test_sample_person_lists_are_summarised() -> None:
    script = build_script(load_notice(SAMPLE / "notices" / "TZ-2026-030.yaml"))
    assert "本次公示对象共三户，拟月保障金额合计两千三百七十五元。" in script.body
    script = build_script(load_notice(SAMPLE / "notices" / "TZ-2026-037.yaml"))
    assert "本次公示对象共三人次，救助金额合计六千五百元。" in script.body


def test_sample_subsidy_table_reads_as_in_the_issue() -> None:
    script = build_script(load_notice(SAMPLE / "notices" / "TZ-2026-029.yaml"))
    assert any(s.startswith("芒洪村，四百七十六户") for s in script.body)
    assert any("补贴金额十二万六千六百七十二元" in s for s in script.body)
