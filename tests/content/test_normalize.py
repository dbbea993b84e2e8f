"""Normalisation of villagers' messages: table-driven cases and idempotence (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from content.matcher.homophones import PinyinIndex
from content.matcher.normalize import DIALECT_PATH, Dialect, bigrams, char_tokens, dialect, normalize, normalize_doc


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("低保標準是多少", "低保标准是多少"),  # traditional → simplified
        ("ＣＴ、Ｂ超多少钱？", "ct b超多少钱"),  # full width, case, punctuation
        ("价格哪里看👀", "价格哪里看"),  # emoji
        ("家庭醫生簽約 收費嗎👨‍⚕️", "家庭医生签约 收费吗"),  # emoji with joiners
        ("孩子满十六岁", "孩子满16岁"),  # numerals before a unit
        ("三十五岁以上", "35岁以上"),
        ("一百零二岁的老祖", "102岁的老祖"),
        ("一卡通", "一卡通"),  # a numeral that is part of a word stays
        ("每亩86.50元。", "每亩86.50元"),  # decimal point kept, full stop dropped
        ("嗯那个就是说镇上敬老院", "镇上敬老院"),  # fillers
        ("  多个   空格  ", "多个 空格"),
        ("", ""),
        ("😀😀", ""),
    ],
)
def test_normalize_table(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_doc_normalisation_keeps_simplified_text() -> None:
    assert normalize_doc("耕地地力保护补贴（每亩86.50元）") == "耕地地力保护补贴 每亩86.50元"


def test_char_tokens_are_unigrams_and_bigrams_within_segments() -> None:
    assert char_tokens("低保 ct") == ["低", "保", "低保", "ct"]
    assert bigrams("低保标准") == {"低保", "保标", "标准"}


@pytest.mark.parametrize(
    ("typed", "words"),
    [("dibao", ["低保"]), ("yibao", ["医保"]), ("cunliganbu", ["村里", "干部"]), ("hello", [])],
)
def test_pinyin_letters_spell_vocabulary_words(typed: str, words: list[str]) -> None:
    index = PinyinIndex(["低保", "医保", "村里", "干部", "保险"])
    assert index.letters(typed) == words


@pytest.mark.parametrize(
    ("text", "repaired"),
    [("底保怎么申请", [("底保", "低保")]), ("居主证", [("居主证", "居住证")]), ("低保标准", [])],
)
def test_homophone_repair(text: str, repaired: list[tuple[str, str]]) -> None:
    index = PinyinIndex(["低保", "居住证", "标准"])
    assert index.repair(text, known=lambda w: w in {"标准", "申请"}) == repaired


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet="低保标准一二三十百千万两零五六七八九年岁元亩那个嗯就是说，。！？ abcＡＢＣ１２３.%😀", max_size=30
    )
)
def test_normalize_is_idempotent_on_tricky_alphabet(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert normalize_doc(normalize_doc(text)) == normalize_doc(text)


# ------------------------------------------------------------------------------------------ dialect


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("一亩给好多", "1亩给多少"),  # 好多 = 多少
        ("补助克哪点办", "补助去哪里办"),  # 克 = 去 before a place or a verb; 哪点 = 哪里
        ("拿克盖房子", "拿去盖房子"),
        ("5克盐", "5克盐"),  # 克 as a unit stays
        ("克服困难", "克服困难"),  # 克 not before a place or a verb stays
        ("家里莫得人", "家里没有人"),  # 莫得 = 没有
        ("没得钱", "没有钱"),
        ("在哪哈瞧", "在哪里看"),  # 哪哈 = 哪里, 瞧 = 看
        ("房子遭雨水泡垮了", "房子被雨水泡垮了"),  # 遭 = 被 (passive)
        ("遭灾了", "遭灾了"),  # 遭灾 (suffer a disaster) stays
        ("地要着征了", "地要被征了"),  # 着 = 被 only as a passive
        ("看着办", "看着办"),  # durative 着 stays
        ("政府得不得帮", "政府能不能帮"),  # 得不得 = 能不能
        ("低保啊是要交钱", "低保是不是要交钱"),  # 啊是 = 是不是
        ("户口咋个销", "户口怎么销"),  # 咋个 = 怎么
        ("我家老倌过世了", "我家老人过世了"),
        ("娃娃上学", "孩子上学"),
        ("家头有老人", "家里有老人"),
        ("城头的房子", "城里的房子"),
        ("要整哪样手续", "要做什么手续"),
        ("种苞谷和洋芋", "种玉米和土豆"),
        ("打针挂水", "打针输液"),
        ("得不得着罚款", "能不能被罚款"),  # rules chain: 得不得 first, then the passive 着
    ],
)
def test_dialect_rewrites(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("罚好多", "罚多少"),  # 好多 at the end of a clause asks 多少
        ("一亩赔好多钱嘛", "1亩赔多少钱嘛"),  # before 钱
        ("现在好多钱一斤", "现在多少钱1斤"),
        ("受灾好多人 咋办", "受灾多少人 怎么办"),  # a unit that ends the clause
        ("共有好多户", "共有多少户"),
        ("公示好多天", "公示多少天"),
        ("塘里死了好多鱼", "塘里死了好多鱼"),  # 好多 = many
        ("好多人拉肚子", "好多人拉肚子"),
        ("好多人觉得不公平", "好多人觉得不公平"),
        ("等了好多年了", "等了好多年了"),
        ("好好多看看", "好好多看看"),  # 好好 + 多看看
    ],
)
def test_haoduo_asks_an_amount_only_as_a_question(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_dialect_table_is_versioned_and_parsed() -> None:
    table = dialect()
    assert table.version
    assert DIALECT_PATH.read_text(encoding="utf-8").startswith("#")
    assert all(rule.dialect and rule.standard for rule in table.rules)
    lengths = [len(rule.dialect) for rule in table.rules]
    assert lengths == sorted(lengths, reverse=True)  # longer dialect words first


def test_dialect_parse_rejects_bad_lines() -> None:
    with pytest.raises(ValueError):
        Dialect.parse("# version: t\n只有\t两列\n")
    with pytest.raises(ValueError):
        Dialect.parse("克\t去\t-\t-\n")  # no version header
    with pytest.raises(ValueError):
        Dialect.parse("# version: t\n克\t去\t-\t哪\n")  # a "before" context must be a character class


def test_dialect_contexts() -> None:
    table = Dialect.parse("# version: t\n克\t去\t(哪|县)\t![0-9]\n")
    assert table.rewrite("克县里") == "去县里"
    assert table.rewrite("5克哪") == "5克哪"
    assert table.rewrite("克服") == "克服"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("要不要 jiao shui", "要不要 交税"),  # syllables typed with spaces spell one word together
        ("di bao 怎么办", "低保 怎么办"),
        ("ok 好的", "ok 好的"),  # English stays
        ("dibao", "低保"),  # one run still works
    ],
)
def test_spaced_pinyin_syllables_spell_a_word(typed: str, expected: str) -> None:
    index = PinyinIndex(["低保", "交税", "村里"])
    assert index.spell_out(typed) == expected
