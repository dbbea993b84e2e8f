"""Normalisation of villagers' messages: table-driven cases and idempotence (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from content.matcher.homophones import PinyinIndex
from content.matcher.normalize import bigrams, char_tokens, normalize, normalize_doc


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
