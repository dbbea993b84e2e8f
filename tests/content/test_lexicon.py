"""The colloquial lexicon data file and its use for query rewriting."""

from __future__ import annotations

import pytest

from content.matcher.lexicon import LEXICON_PATH, Lexicon
from content.matcher.query import INTENTS_PATH, Intents, intents
from content.vocab import DOMAINS


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon.load()


def test_lexicon_is_versioned(lexicon: Lexicon) -> None:
    assert lexicon.version
    assert LEXICON_PATH.read_text(encoding="utf-8").startswith("#")


def test_every_domain_has_villager_words(lexicon: Lexicon) -> None:
    covered = {d for entry in lexicon.entries.values() for d in entry.domains}
    assert covered >= set(DOMAINS), sorted(set(DOMAINS) - covered)


@pytest.mark.parametrize(
    ("question", "canonical"),
    [
        ("种地补贴什么时候发", "耕地地力保护补贴"),
        ("低保怎么申请", "最低生活保障"),
        ("老人钱一个月多少", "高龄津贴"),
        ("老人钱一个月多少", "养老金"),
        ("公租房要什么条件", "公共租赁住房"),
        ("危房补助多少", "农村危房改造补助"),
        ("医保一年交多少", "城乡居民基本医疗保险"),
    ],
)
def test_rewrite_adds_catalog_vocabulary(lexicon: Lexicon, question: str, canonical: str) -> None:
    assert canonical in lexicon.rewrite(question)


def test_rewrite_leaves_unrelated_text_alone(lexicon: Lexicon) -> None:
    assert lexicon.rewrite("周杰伦最近开演唱会没有") == []


def test_longest_term_wins(lexicon: Lexicon) -> None:
    (match,) = lexicon.find("吃低保")
    assert match.term == "吃低保"


def test_parse_rejects_bad_lines() -> None:
    with pytest.raises(ValueError):
        Lexicon.parse("# version: 1\n只有一列\n")
    with pytest.raises(ValueError):
        Lexicon.parse("低保\t最低生活保障\n")  # no version header


def test_duplicate_terms_merge() -> None:
    lex = Lexicon.parse("# version: t\n老人钱\t高龄津贴\t06\n老人钱\t养老金\t10\n")
    assert lex.entries["老人钱"].canonical == ("高龄津贴", "养老金")


def test_keywords_and_jieba_userdict(lexicon: Lexicon) -> None:
    lex = lexicon.with_keywords(["坝坝宴", "稻谷补贴"])
    assert "稻谷补贴" in lex.vocabulary()
    lines = lex.jieba_userdict()
    assert "最低生活保障 2000" in lines
    assert all(len(line.split(" ")) == 2 for line in lines)


# ------------------------------------------------------------------------------------------ intents


@pytest.mark.parametrize(
    ("question", "intent"),
    [
        ("城管乱罚款去哪里投诉", "complain"),
        ("低保名单在哪里看", "roster"),
        ("危房改造结果公示了没有", "publish"),
        ("低保一个月多少钱", "amount"),
        ("居住证怎么申请", "apply"),
        ("办税大厅几点上班", "hours"),
        ("救灾的钱用到哪里去了", "spending"),
        ("户口迁移办到哪一步了", "progress"),
        ("补偿款发下去没有", "payment"),
        ("补偿款什么时候发", "payment"),
        ("临时救助今年一共发了多少人", "statistics"),
        ("这次低保是哪个村来查", "internal"),
        ("哪个牌子的微耕机质量好", "offtopic"),
        ("低保检查的台账要整改几天", "internal"),
    ],
)
def test_intents_classify_general_question_kinds(question: str, intent: str) -> None:
    assert intent in [i.name for i in intents().classify(question)]


def test_intents_table_is_versioned_and_well_formed() -> None:
    table = intents()
    assert table.version
    assert INTENTS_PATH.read_text(encoding="utf-8").startswith("#")
    for intent in table.intents:
        assert intent.cues and intent.weight > 0
        assert intent.prefer in ("", "catalog", "interpretation")
    with pytest.raises(ValueError):
        Intents.parse("# version: t\nonly\ttwo\n")


@pytest.mark.parametrize(
    ("question", "canonical"),
    [
        ("老人上个月走了户口咋个销", "死亡"),
        ("老人走了要去销户口", "户口注销"),
        ("娃娃爹妈都不在了", "事实无人抚养儿童"),
        ("山上着火了打哪个电话", "森林防火"),
        ("请来的厨子要不要健康证", "乡村厨师"),
        ("养猪场排粪水", "生态环境问题投诉举报"),
        ("孙子不想读了", "控辍保学"),
        ("卖茶叶要不要上税", "税收"),
        ("补偿款付了没有", "支付"),
    ],
)
def test_general_villager_vocabulary(lexicon: Lexicon, question: str, canonical: str) -> None:
    assert canonical in lexicon.rewrite(question)
