"""The question matcher on the sample township: quality gates, disclosure rules, abstention, scoping.

The quality figures are computed live by running the matcher over the sample question set and the
development set (tests/data/dev_questions.jsonl); nothing is hard-coded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from admin_cli.main import cli
from content.matcher import smalltalk
from content.matcher.documents import Doc, load_documents
from content.matcher.evaluation import Outcome, evaluate, load_rows
from content.matcher.normalize import normalize
from content.matcher.reply import MAX_CHARS
from content.matcher.service import AskResult, Matcher
from core.db import make_engine, make_sessionmaker
from village_lists.documents import village_docs, village_docs_from_dir

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "examples" / "qinghe"
SAMPLE_SET = SAMPLE / "sample_questions.jsonl"
DEV_SET = REPO / "tests" / "data" / "dev_questions.jsonl"
TUNE_SET = REPO / "tests" / "data" / "tune_questions.jsonl"  # fresh questions by another author
REDACTED_SECTION = re.compile(r"## 删减部分\n(.*?)(?=\n## |\Z)", re.S)

# Acceptance floors (issue #3) on the live figures (see the README for the latest bench output).
SAMPLE_TOP1, SAMPLE_TOP3, DEV_TOP1, DEV_TOP3, ABSTAIN = 0.90, 0.97, 0.90, 0.97, 0.95
TUNE_TOP1, TUNE_TOP3 = 0.90, 0.97


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Matcher, list[Doc]]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('matcher') / 'cunwu.db'}"
    result = CliRunner().invoke(cli, ["--db", url, "load-sample"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        vdocs = village_docs(session) or village_docs_from_dir(SAMPLE, "清河镇")
        docs = load_documents(session)
        matcher = Matcher.from_session(session, vdocs)
    engine.dispose()
    yield matcher, docs + vdocs


@pytest.fixture(scope="module")
def matcher(loaded: tuple[Matcher, list[Doc]]) -> Matcher:
    return loaded[0]


def _outcome(matcher: Matcher):  # type: ignore[no-untyped-def]
    def ask(row: dict) -> Outcome:  # type: ignore[type-arg]
        res = matcher.ask(row["q"], village=row.get("village"))
        return Outcome(res.answered, tuple(r.id for r in res.results), res.reply)

    return ask


# ------------------------------------------------------------------------------------------ quality


def test_quality_on_the_sample_set(matcher: Matcher) -> None:
    m = evaluate(load_rows(SAMPLE_SET), _outcome(matcher))
    assert m.forbidden == 0 and m.leaks == 0
    assert m.top1 >= SAMPLE_TOP1, m.failures
    assert m.top3 >= SAMPLE_TOP3
    assert m.abstain >= ABSTAIN


@pytest.mark.skipif(not DEV_SET.exists(), reason="development set not written yet")
def test_quality_on_the_development_set(matcher: Matcher) -> None:
    m = evaluate(load_rows(DEV_SET), _outcome(matcher))
    assert m.forbidden == 0 and m.leaks == 0
    assert m.top1 >= DEV_TOP1, m.failures[:20]
    assert m.top3 >= DEV_TOP3
    assert m.abstain >= ABSTAIN


@pytest.mark.skipif(not TUNE_SET.exists(), reason="tune set not written yet")
def test_quality_on_the_tune_set(matcher: Matcher) -> None:
    """Fresh questions by a different author: the matcher must generalise, not fit the dev set."""
    m = evaluate(load_rows(TUNE_SET), _outcome(matcher))
    assert m.forbidden == 0 and m.leaks == 0
    assert m.top1 >= TUNE_TOP1, m.failures[:20]
    assert m.top3 >= TUNE_TOP3
    assert m.abstain >= ABSTAIN


# ------------------------------------------------------------------------------------------ disclosure


def _all_questions() -> list[dict]:  # type: ignore[type-arg]
    rows = load_rows(SAMPLE_SET)
    if DEV_SET.exists():
        rows += load_rows(DEV_SET)
    return rows


def test_non_public_documents_never_appear(matcher: Matcher, loaded: tuple[Matcher, list[Doc]]) -> None:
    assert not {"JD-033", "JD-034"} & {d.id for d in loaded[1]}
    for row in _all_questions():
        res = matcher.ask(row["q"], village=row.get("village"), top=10)
        assert not {"JD-033", "JD-034"} & {r.id for r in res.results}, row["q"]


def test_redacted_text_never_in_any_reply(matcher: Matcher) -> None:
    source = (SAMPLE / "interpretations" / "JD-035.md").read_text(encoding="utf-8")
    section = REDACTED_SECTION.search(source)
    assert section is not None
    sentences = [s for s in re.split(r"[。，；：\n]", section.group(1)) if len(s) >= 6]
    questions = [r["q"] for r in _all_questions()] + sentences
    for q in questions:
        reply = matcher.ask(q).reply
        for s in sentences:
            assert s not in reply, (q, s)


def test_abolished_never_above_current(matcher: Matcher) -> None:
    for q in ["高龄津贴发放管理办法", "高龄补贴多少钱", "八十岁补贴怎么领", "老人补贴", "高龄津贴还是只能去镇上登记吗"]:
        ids = [r.id for r in matcher.ask(q, top=10).results]
        if "JD-031" in ids:
            assert "JD-007" in ids and ids.index("JD-007") < ids.index("JD-031"), (q, ids)


def test_abolished_is_labelled_wherever_shown(matcher: Matcher) -> None:
    res = matcher.ask("高龄津贴发放管理办法解读", top=10)
    assert "《高龄津贴发放管理办法解读》" not in res.reply.replace("（已废止）", "X")


def test_on_application_items_say_how_to_apply(matcher: Matcher) -> None:
    res = matcher.ask("惠农补贴一卡通发放明细怎么查")
    assert res.answered and res.results[0].id == "19-019"
    assert "申请" in res.reply and "身份证" in res.reply and "20个工作日" in res.reply


def test_on_application_interpretation_shows_no_body(matcher: Matcher) -> None:
    res = matcher.ask("社会救助家庭经济状况核对工作规程")
    assert res.results[0].id == "JD-036"
    assert "云民发〔2026〕33号" in res.reply and "云岭县民政局" in res.reply and "申请" in res.reply
    body = (SAMPLE / "interpretations" / "JD-036.md").read_text(encoding="utf-8").split("## 简明问答", 1)[1]
    answers = [ln[2:] for ln in body.splitlines() if ln.startswith("答：")]
    assert answers and not any(a[:20] in res.reply for a in answers)


# ------------------------------------------------------------------------------------------ abstention


@pytest.mark.parametrize("q", ["你好", "谢谢你啊", "在吗", "👍", "好的收到"])
def test_smalltalk_gets_a_friendly_reply(matcher: Matcher, q: str) -> None:
    res = matcher.ask(q)
    assert not res.answered and res.results == () and res.reply


@pytest.mark.parametrize(
    "q", ["今天街上白菜多少钱一斤", "周杰伦最近开演唱会没有", "一百二十除以八等于几", "话费怎么充"]
)
def test_off_topic_abstains_with_phone(matcher: Matcher, q: str) -> None:
    res = matcher.ask(q)
    assert not res.answered
    assert "0883-6712001" in res.reply


@pytest.mark.parametrize(
    ("q", "category"),
    [
        ("后天要下雪不", "weather"),
        ("菜籽今年收购价几块", "market"),
        ("家里的羊哪个老板收", "market"),
        ("老是头晕吃点啥好", "health"),
        ("晚上打鼾咋个办", "health"),
        ("咳嗽老是不好咋个整", "health"),
        ("猪不吃食了是不是生病了", "animals"),
        ("摩托坏了哪里修", "tech"),
        ("手机上咋个发视频", "tech"),
        ("抖音上那个电视剧叫什么", "leisure"),
        ("表妹结婚要随多少礼", "social"),
        ("帮我写一篇作文", "assistant"),
        ("去县城的班车几点有", "calendar"),
        ("腊肉怎么腌", "cooking"),
        ("腊肉怎么做好吃", "advice"),  # which way is best
        ("哪个银行存定期利息高", "money"),
        ("邻居家的鸭子跑到我田里", "neighbours"),
    ],
)
def test_off_topic_categories(q: str, category: str) -> None:
    assert smalltalk.offtopic(normalize(q)) == category


@pytest.mark.parametrize(
    "q",
    [
        "高血压吃药能报销多少",  # a policy anchor outweighs a weak chit-chat cue
        "冰雹把苞谷打了有没有救助",
        "收购价补贴啥时候发",
        "野猪跑到地里吃苞谷有没有补偿",
        "养老保险在手机上咋个交",
        "文化站跳广场舞要不要登记",
        "集体聚餐办喜酒要不要报备",
        "水管坏了找哪个",
    ],
)
def test_off_topic_categories_spare_policy_questions(q: str) -> None:
    assert smalltalk.offtopic(normalize(q)) is None


def test_off_topic_table_is_versioned_and_checked() -> None:
    table = smalltalk.OfftopicTable.load()
    assert table.version and table.strong and table.weak and table.anchor is not None
    with pytest.raises(ValueError):
        smalltalk.OfftopicTable.parse("# version: 1\nweather\tweak\n")
    with pytest.raises(ValueError):
        smalltalk.OfftopicTable.parse("# version: 1\nweather\tmaybe\t下雨\n")
    with pytest.raises(ValueError):
        smalltalk.OfftopicTable.parse("weather\tweak\t下雨\n")


@pytest.mark.parametrize(
    ("q", "category", "strength", "cue"),
    [
        ("表妹结婚要随多少礼", "social", smalltalk.STRONG, "随多少礼"),
        ("村里放露天电影是哪天", "leisure", smalltalk.WEAK, "电影"),
        ("明天会不会下雨", "weather", smalltalk.WEAK, "会不会下雨"),
    ],
)
def test_off_topic_match_has_strength_and_cue(q: str, category: str, strength: str, cue: str) -> None:
    got = smalltalk.offtopic_match(normalize(q))
    assert got == smalltalk.Chat(category, strength, cue)


@pytest.mark.parametrize(
    ("q", "expect"),
    [
        ("村里放露天电影是哪天", "20-005"),  # weak 电影 cue, overruled: the lexicon maps it to the catalog item
        # (its 活动时间 element is answered from the linked JD-025's passage, the item listed second)
        ("吃了酒席食物中毒找哪个", "JD-024"),  # 中毒 is a policy anchor (food safety)
        ("彩票公益金养老项目用了多少钱", "06-011"),  # off-topic intent cue 彩票 inside a lexicon concept
    ],
)
def test_weak_chit_chat_cue_overruled_by_a_covering_document(matcher: Matcher, q: str, expect: str) -> None:
    res = matcher.ask(q)
    assert res.answered and expect in [r.id for r in res.results[:2]]
    assert res.results[0].id == expect or res.results[0].kind == "interpretation"


@pytest.mark.parametrize(
    "q", ["看电影哪里便宜", "拖拉机坏了，哪点修得好", "村主任家姑娘哪天办喜酒", "表妹结婚要随多少礼"]
)
def test_chit_chat_cue_not_supported_by_the_document_still_abstains(matcher: Matcher, q: str) -> None:
    res = matcher.ask(q)
    assert not res.answered and res.results == ()


@pytest.mark.parametrize(
    ("q", "expect"),
    [
        ("征地补偿款发了多少人", "12-010"),  # statistics / payment → the payment item, not the interpretation
    ],
)
def test_explicit_intent_routes_to_the_publishing_item(matcher: Matcher, q: str, expect: str) -> None:
    res = matcher.ask(q)
    assert res.results and res.results[0].id == expect


@pytest.mark.parametrize("q", ["这次低保是哪个村来查", "低保交叉检查是哪个来检查"])
def test_who_inspects_whom_abstains(matcher: Matcher, q: str) -> None:
    assert not matcher.ask(q).answered


@pytest.mark.parametrize("q", ["家里两头黄牛想卖，哪个老板收", "早上好啊老师", "电视没得信号了咋整"])
def test_chit_chat_abstains_without_results(matcher: Matcher, q: str) -> None:
    res = matcher.ask(q)
    assert not res.answered and res.results == ()


@pytest.mark.parametrize("q", ["哪个牌子的电动车质量好", "手机游戏怎么上分", "明天会不会下雨", "二手拖拉机哪家好"])
def test_off_topic_intent_abstains(matcher: Matcher, q: str) -> None:
    assert not matcher.ask(q).answered


@pytest.mark.parametrize(
    ("q", "expect"),
    [
        ("孩子满十六岁第一次办身份证，要带啥", "04-007"),  # short and colloquial: answered, not abstained
        ("克哪点办居住证", "04-009"),  # dialect: 克=去, 哪点=哪里
        ("苞谷大豆套种一亩补好多", "JD-029"),  # dialect crops and 好多=多少
    ],
)
def test_colloquial_and_dialect_questions_are_answered(matcher: Matcher, q: str, expect: str) -> None:
    res = matcher.ask(q)
    assert res.answered, res.reply
    assert expect in [r.id for r in res.results]


def test_internal_work_questions_abstain(matcher: Matcher) -> None:
    """Questions about internal work (inspections, 台账, 舆情…) or other households' private
    disputes that no public document covers."""
    for q in (
        "低保专项检查的台账要整改几天",
        "征地舆情专班归哪个部门管",
        "来查低保会不会提前通知",
        "村干部的亲戚吃低保咋个处理",
        "那两户分家扯皮的补偿款咋个办",
    ):
        assert not matcher.ask(q).answered, q


def test_complaint_questions_prefer_the_complaint_channel(matcher: Matcher) -> None:
    res = matcher.ask("城管乱收摊子，我要投诉打哪个电话")
    assert res.answered and res.results[0].id == "18-003"


# ------------------------------------------------------------------------------------------ shape, scoping


def test_reply_shape(matcher: Matcher) -> None:
    for row in _all_questions()[:80]:
        res = matcher.ask(row["q"], village=row.get("village"))
        assert isinstance(res, AskResult)
        assert len(res.reply) <= MAX_CHARS
        assert "**" not in res.reply and "##" not in res.reply
        assert res.reply.count("相关：") <= 1
        d = res.to_dict()
        assert set(d) == {"answered", "reply", "results", "ms"}
        for r in d["results"]:
            assert set(r) == {"kind", "id", "title", "score"}
            assert r["kind"] in ("catalog", "interpretation", "village_item")


def test_village_rows_only_for_their_villagers(matcher: Matcher) -> None:
    q = "我们村冬春救助的名单贴出来没有"
    bound = matcher.ask(q, village="QH01")
    assert bound.results[0].id == "QH01/30"
    assert all(not r.id.startswith("QH") or r.id.startswith("QH01/") for r in bound.results)
    unbound = matcher.ask(q)
    assert all(r.kind != "village_item" for r in unbound.results)


def test_unbound_duplicates_across_townships_collapse(loaded: tuple[Matcher, list[Doc]]) -> None:
    from dataclasses import replace

    docs = loaded[1]
    copies = [replace(d, township="河口镇") for d in docs if d.kind == "catalog"]
    m = Matcher.build([*docs, *copies], [d for d in docs if d.kind == "village_item"])
    ids = [r.id for r in m.ask("低保名单公示", top=6).results]
    assert len(ids) == len(set(ids))
    scoped = m.ask("低保名单公示", village="QH01", top=6)
    assert len({r.id for r in scoped.results}) == len(scoped.results)


def test_rerank_views_are_made_at_build(loaded: tuple[Matcher, list[Doc]]) -> None:
    """Every doc's rerank view is made by ``Matcher.build`` and equals the doc's own features."""
    from content.matcher import views as rank
    from content.matcher.normalize import bigrams, normalize_doc

    index = loaded[0].index
    views = index.views
    assert isinstance(views, rank.Views) and rank.prepare(index) is views
    names = {nid: g for g, nid in views.name_ids.items()}
    for i, doc in enumerate(index.docs):
        title = doc.title
        for g in rank._GENERIC:
            if len(title.replace(g, "")) >= 2:
                title = title.replace(g, "")
        want = [normalize_doc(k) for k in (title, *doc.keywords) if k]
        keys = views.doc_keys[views.doc_key_ptr[i] : views.doc_key_ptr[i + 1]].tolist()
        assert len(keys) == len(want), doc.id
        for kid, name in zip(keys, want, strict=True):
            ids = views.key_big[views.key_big_ptr[kid] : views.key_big_ptr[kid + 1]].tolist()
            assert {names[n] for n in ids} == bigrams(name) and len(ids) == len(bigrams(name))
            assert views.key_mass[kid] == pytest.approx(sum(index.idf(g) for g in bigrams(name)), rel=1e-12)
        assert views.fits[i] == rank._fits(doc), doc.id
        assert bool(views.listing[i]) == (doc.kind != "interpretation" and any(w in doc.title for w in rank._LISTING))
        assert [qb for qb, _ in views.questions.get(i, ())] == [
            frozenset(bigrams(normalize_doc(q))) for q in doc.questions
        ]


def test_refresh_only_when_content_changes(matcher: Matcher, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    assert CliRunner().invoke(cli, ["--db", url, "load-sample"]).exit_code == 0
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            m = Matcher.from_session(session)
            assert m.refresh_if_changed(session) is m
            from content.repository import bump_revision

            bump_revision(session)
            assert m.refresh_if_changed(session) is not m
    finally:
        engine.dispose()
