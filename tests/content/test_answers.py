"""Answers that answer: the passage that holds the fact asked, on the sample township.

The matcher is built from the sample loaded through the real CLI; the fact-annotated tuning set
(tests/data/facts_tune.jsonl) is scored live through ``evaluate``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from content.matcher.documents import KIND_INTERPRETATION, Doc
from content.matcher.evaluation import Outcome, evaluate, holds_facts, load_rows
from content.matcher.facets import Facets, facets
from content.matcher.passages import choose, doc_passages
from content.matcher.reply import MAX_CHARS
from content.matcher.service import Matcher

REPO = Path(__file__).resolve().parents[2]
FACTS_SET = REPO / "tests" / "data" / "facts_tune.jsonl"
ANSWER_FLOOR, ABSTAIN_FLOOR = 0.90, 0.95


@pytest.fixture(scope="module")
def matcher(sample_matcher: Matcher) -> Matcher:
    return sample_matcher


@pytest.mark.parametrize(
    ("question", "facts"),
    [
        ("高龄补贴好多钱一个月", ["60元", "150元", "500元"]),
        ("低保咋个申请", ["户口簿", "身份证", "便民服务中心"]),
        ("医保一年交好多", ["420元"]),
    ],
)
def test_the_issue_examples_are_answered_with_the_fact(matcher: Matcher, question: str, facts: list[str]) -> None:
    res = matcher.ask(question)
    assert res.answered, res.reply
    assert holds_facts(res.reply, facts), res.reply
    assert len(res.reply) <= MAX_CHARS


def test_element_only_item_is_answered_from_its_linked_interpretation(matcher: Matcher) -> None:
    """10-007 names 个人缴费标准 as an element; JD-009, linked to it, holds the amount."""
    res = matcher.ask("医保一年交好多")
    assert [r.id for r in res.results[:2]] == ["JD-009", "10-007"]
    head, _, related = res.reply.rpartition("\n相关：")
    assert "420元" in head
    assert "城乡居民基本医疗保险参保缴费公告" in related


def test_a_publishing_question_is_answered_from_the_item_fields(matcher: Matcher) -> None:
    res = matcher.ask("最低生活保障对象名单多久公布一次")
    assert res.answered and res.results[0].id == "05-005"
    assert "每季度" in res.reply and "公示栏" in res.reply


def test_facts_set_answer_level(matcher: Matcher) -> None:
    def ask(row: dict) -> Outcome:  # type: ignore[type-arg]
        res = matcher.ask(row["q"], village=row.get("village"))
        return Outcome(res.answered, tuple(r.id for r in res.results), res.reply)

    m = evaluate(load_rows(FACTS_SET), ask)
    assert m.with_facts >= 90
    bad = [f for f in m.failures if "facts" in f]
    assert m.answer >= ANSWER_FLOOR, bad[:10]


def test_facets_from_the_table() -> None:
    table = facets()
    assert [f.name for f in table.classify("医保1年交多少")] == ["amount"]
    assert [f.name for f in table.classify("医保咨询电话是多少")] == ["phone"]  # 多少 is a weak cue
    assert {f.name for f in table.classify("低保怎么申请要带什么")} == {"apply"}
    assert table.classify("高龄津贴") == ()


def test_facet_table_checks_its_shape() -> None:
    with pytest.raises(ValueError, match="5 tab-separated"):
        Facets.parse("# version: 1\namount\t多少\n")
    with pytest.raises(ValueError, match="version"):
        Facets.parse("amount\t多少\t元\t-\t-\n")


def _interp(summary: str, pairs: list[tuple[str, str]]) -> Doc:
    return Doc(
        kind=KIND_INTERPRETATION,
        id="JD-900",
        title="耕牛保险政策解读",
        keywords=("耕牛保险",),
        questions=tuple(q for q, _ in pairs),
        answers=tuple(a for _, a in pairs),
        summary=summary,
        disclosure="此件公开发布",
    )


def test_passages_are_pairs_and_summary_sentences() -> None:
    doc = _interp("耕牛保险每头保费60元。农户自交12元。", [("谁能参保？", "本县养牛户。")])
    got = doc_passages(doc)
    assert [(p.kind, p.text) for p in got] == [
        ("qa", "本县养牛户。"),
        ("summary", "耕牛保险每头保费60元。"),
        ("summary", "农户自交12元。"),
    ]


def test_the_passage_holding_the_asked_value_is_chosen() -> None:
    doc = _interp(
        "全县推行耕牛保险。",
        [
            ("谁能参保？", "本县户籍、存栏耕牛的养牛户都可以参保，由村协保员登记。"),
            ("农户自己交多少？", "每头每年保费60元，财政补贴80%，农户只交12元。"),
            ("牛死了怎么报案？", "24小时内拨打理赔电话0883-6129999报案，保留现场。"),
        ],
    )
    matcher = Matcher.build([doc])
    for question, fact in [("耕牛保险一头交好多钱", "12元"), ("耕牛保险理赔电话", "0883-6129999")]:
        query = matcher.analyzer.analyze(question)
        shown = choose(query, doc, query.facets)
        assert fact in shown[0].text, (question, shown)


@pytest.mark.parametrize("question", ["稻谷晒干了放多久会发霉", "微耕机的机油多久换一次", "低保户家的狗咬人了咋个办"])
def test_one_shared_word_is_not_an_answer(matcher: Matcher, question: str) -> None:
    """The question's focus (发霉, 机油, 狗咬人) is what is asked; a policy word beside it is not enough."""
    res = matcher.ask(question)
    assert not res.answered, res.reply


def test_a_document_that_covers_the_focus_answers() -> None:
    doc = Doc(
        kind=KIND_INTERPRETATION,
        id="JD-901",
        title="狗咬伤后狂犬病疫苗接种补助政策解读",
        keywords=("狂犬疫苗", "狗咬伤"),
        questions=("被狗咬伤了打疫苗有补助吗？",),
        answers=("有。本县户籍居民被狗咬伤后接种狂犬病疫苗，每人补助200元。",),
        disclosure="此件公开发布",
    )
    res = Matcher.build([doc]).ask("被狗咬伤了打疫苗有没有补助")
    assert res.answered and "200元" in res.reply


def test_facts_set_abstains_off_topic(matcher: Matcher) -> None:
    rows = [r for r in load_rows(FACTS_SET) if r["kind"] == "offtopic"]
    answered = [r["q"] for r in rows if matcher.ask(r["q"], village=r.get("village")).answered]
    assert len(rows) >= 10
    assert 1 - len(answered) / len(rows) >= ABSTAIN_FLOOR, answered


@pytest.mark.parametrize(
    ("question", "village", "row", "facts"),
    [
        ("我们村低保名单上回啥时候贴的", "QH01", "QH01/10", ["2026-11-05", "刘芳"]),
        ("我们村财务上回啥时候公开的", "QH01", "QH01/1", ["2026-10-12", "赵丽萍"]),
        ("村里高龄津贴名单最近一次啥时候公示", "QH02", "QH02/15", ["2026-10-10", "罗春兰"]),
    ],
)
def test_village_bound_questions_get_their_own_row(
    matcher: Matcher, question: str, village: str, row: str, facts: list[str]
) -> None:
    res = matcher.ask(question, village=village)
    assert res.answered and res.results[0].id == row, res.results
    assert holds_facts(res.reply, facts), res.reply


def test_unbound_villager_gets_no_village_row(matcher: Matcher) -> None:
    res = matcher.ask("我们村低保名单上回啥时候贴的")
    assert all(r.kind != "village_item" for r in res.results)


def test_a_dialect_word_the_township_writes_stays_reachable() -> None:
    """苞谷 is rewritten to 玉米 for the catalog's vocabulary, and kept as an alternative: a township
    whose catalog says 苞谷 is still found."""
    docs = [
        Doc(kind="catalog", id="19-201", title="苞谷种植补贴发放", township="甲镇", elements=("补贴标准", "补贴面积")),
        Doc(kind="catalog", id="19-202", title="大豆种植补贴发放", township="甲镇", elements=("补贴标准", "补贴面积")),
    ]
    res = Matcher.build(docs).ask("苞谷补贴发了没得")
    assert res.answered and res.results[0].id == "19-201"


def test_the_asked_fields_come_first(matcher: Matcher) -> None:
    res = matcher.ask("我们村低保名单上回啥时候贴的", village="QH01")
    lines = res.reply.split("\n")
    assert lines[1].startswith("最近公开：2026-11-05"), lines
    res = matcher.ask("最低生活保障对象名单在哪里看")
    assert res.results[0].id == "05-005"
    assert res.reply.split("\n")[1].startswith("在哪里看："), res.reply


@pytest.mark.parametrize(
    ("question", "stands"),
    [
        ("种粮补贴的钱存银行哪家利息高", True),  # ends on the chit-chat: the policy word is one shared word
        ("临时救助窗口的空调坏了", True),
        ("县里给养牛户配种用的冻精有补贴吗", False),  # goes on to the policy word after the cue
        ("超市卖过期食品，打哪个电话投诉", False),
    ],
)
def test_a_policy_word_cancels_a_chit_chat_cue_only_after_it(question: str, stands: bool) -> None:
    from content.matcher import smalltalk
    from content.matcher.normalize import normalize

    assert (smalltalk.offtopic_match(normalize(question)) is not None) is stands


@pytest.mark.parametrize(
    "question",
    [
        "养老院的饭菜咸不咸",
        "微耕机的皮带松了咋个调",
        "公益性岗位的扫把是竹子的还是塑料的",
        "医保卡掉进水里还能不能刷",
        "法律顾问会不会看手相",
    ],
)
def test_a_focus_no_document_knows_is_declined(matcher: Matcher, question: str) -> None:
    """In "X的Y" the head Y is asked about, and a question without a facet asks its last word: X (or
    the one other word) covered by a document and the focus unknown to every one is off-topic,
    without any chit-chat row naming the focus."""
    from content.matcher import smalltalk

    assert smalltalk.offtopic_match(matcher.analyzer.analyze(question).normalized) is None
    assert not matcher.ask(question).answered


@pytest.mark.parametrize(
    ("question", "village", "expect"),
    [
        ("我们村集体的鱼塘发包给哪个了，承包费公开没有", "QH03", "QH03/7"),
        ("惠农补贴一卡通的发放明细在哪里查", None, "19-019"),
    ],
)
def test_a_question_that_goes_on_to_the_matter_is_answered(
    matcher: Matcher, question: str, village: str | None, expect: str
) -> None:
    """An unknown head (鱼塘) followed by the document's own matter (承包费公开), or a head the
    document covers (发放明细), is the document's question."""
    got = matcher.ask(question, village=village)
    assert got.answered
    assert got.results[0].id == expect
