"""Forms of a villager's question the matcher must read right: numerals in question words, a
quantity or a verb's complement as the last word, a time or the hill behind the house that looks
like a place name, objectors named after their dispute, and what an inspection found."""

from __future__ import annotations

from pathlib import Path

import pytest

from content.matcher.evaluation import holds_facts
from content.matcher.facets import facets
from content.matcher.service import Matcher
from tests.content.test_unseen_townships import TUNED, _load


def _asked(text: str) -> list[str]:
    return [f.name for f in facets().classify(text)]


def test_a_question_word_with_a_numeral_matches_the_normalised_question() -> None:
    """Questions are matched normalised: 哪一天 reads 哪1天, and the cue must too."""
    assert "day" in _asked("禁渔到哪1天为止")
    assert "amount" in _asked("高龄津贴1个月多少")


def test_a_subsidy_word_is_no_notice_board_cue() -> None:
    """贴的 asks when a list was put up (上回啥时候贴的), not inside 补贴的."""
    assert "publish" not in _asked("享受了农机补贴的机子能不能转手卖掉")
    assert "publish" in _asked("低保名单上回啥时候贴的")


def test_a_deadline_asks_a_day() -> None:
    assert "day" in _asked("明年的医保缴费到什么时候截止")


def test_ten_years_of_the_fishing_ban_is_a_topic_word(tmp_path: Path) -> None:
    """10年禁渔 holds digits once normalised, and 为止 is grammar: the question is the document's."""
    matcher, _ = _load(TUNED / "township_poyang", tmp_path / "cunwu.db")
    res = matcher.ask("十年禁渔到哪一天为止")
    assert res.answered and holds_facts(res.reply, ["2030年12月31日"]), res.reply


def test_a_time_and_a_hill_behind_the_house_are_no_other_place(tmp_path: Path) -> None:
    """开春 and 后山 are place names in the general dictionary; here they are a season and a hill."""
    matcher, _ = _load(TUNED / "township_yanbian", tmp_path / "cunwu.db")
    res = matcher.ask("开春以后防火期从几号开始")
    assert res.answered and res.results[0].id == "JD-3208", res.reply
    assert matcher.ask("后山那片林子能不能砍了开成参地").answered
    assert not matcher.ask("边岗村对参龄有意见的是哪两户，叫啥名").answered  # their own affair
    assert not matcher.ask("听说镇里在查边民补助，查出来多少户有问题").answered  # not yet published


def test_a_quantity_is_never_the_unknown_last_word(tmp_path: Path) -> None:
    matcher, _ = _load(TUNED / "township_enshi", tmp_path / "cunwu.db")
    res = matcher.ask("滑坡搬迁的补助钱是分几次给的建房子建到哪一步给第一笔")
    assert res.answered and res.results[0].id == "JD-3109", res.reply


def test_households_named_by_their_dispute() -> None:
    from content.matcher.focus import those_households

    assert those_households("堤防征地有哪几户对桑园面积有意见")
    assert those_households("工作组跟存塘对虾有异议的人家按多少一亩协商")
    assert those_households("边岗村对参龄有意见的是哪两户")
    assert not those_households("哪些户可以申请低保")
    assert not those_households("对征地方案有意见找哪个部门")


@pytest.mark.parametrize(
    "question",
    [
        "芒洪下寨茶园有意见的那几家，协商最高能给到好多钱一亩",
        "芒洪村茶园补偿协商上限是好多钱",
    ],
)
def test_objectors_and_a_negotiations_room_are_not_public(sample_matcher: Matcher, question: str) -> None:
    assert not sample_matcher.ask(question).answered


def test_objecting_to_a_land_plan_is_in_its_public_part(tmp_path: Path) -> None:
    """有意见 is 异议: how to object is published even in a document with a part removed."""
    matcher, _ = _load(TUNED / "township_wannan", tmp_path / "cunwu.db")
    res = matcher.ask("修路征地方案有意见要在哪天之前提")
    assert res.answered and holds_facts(res.reply, ["2026年7月21日至8月20日"]), res.reply
