"""The dialogue: command parsing (pure), reply fitting, and every command through the real endpoint
against the sample township (清河镇) with the real matcher."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot import replies
from bot.app import QUESTION_LOG
from bot.dialogue import BIND, EMPTY, HELP, MY_VILLAGE, QUESTION, UNBIND, Command, parse_command
from bot.matching import QuestionMatcher, default_matcher_factory
from bot.models import QuestionLog
from content.models import Township
from core.clock import FixedClock
from core.db import make_engine, make_sessionmaker
from tests.bot.conftest import BotFactory, StubMatcher
from tests.conftest import Cunwu
from village_lists.models import Follower, Village

OPENID = "oDialogue0001"
TODAY = FixedClock(dt.datetime(2026, 11, 21, 9, 0))


# --------------------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("绑定 清河村", Command(BIND, "清河村")),
        ("绑定清河村", Command(BIND, "清河村")),
        ("绑定：芒洪", Command(BIND, "芒洪")),
        ("  绑定　QH03 ", Command(BIND, "QH03")),
        ("綁定 新寨村", Command(BIND, "新寨村")),
        ("绑定村 大坪", Command(BIND, "大坪")),
        ("绑定", Command(BIND, "")),
        ("解绑", Command(UNBIND)),
        ("取消绑定。", Command(UNBIND)),
        ("帮助", Command(HELP)),
        ("菜单", Command(HELP)),
        ("？", Command(HELP)),
        ("HELP", Command(HELP)),
        ("我村公开", Command(MY_VILLAGE)),
        ("本村公开！", Command(MY_VILLAGE)),
        ("低保怎么申请？", Command(QUESTION, "低保怎么申请？")),
        ("绑定银行卡领补贴要带什么材料呢，在哪里办，需要本人去吗，还是家里人代办也可以的吧", None),
        ("", Command(EMPTY)),
        ("  。 ", Command(EMPTY)),
    ],
)
def test_parse_command(text: str, expected: Command | None) -> None:
    got = parse_command(text)
    if expected is None:  # a long sentence starting with 绑定 is a question
        assert got.kind == QUESTION
    else:
        assert got == expected


def test_fit_short_text_is_unchanged() -> None:
    assert replies.fit("你好") == ("你好", [])


def test_fit_with_link_cuts_at_a_sentence_and_links() -> None:
    text = "。".join(["这是一句比较长的政策说明文字"] * 80)
    first, rest = replies.fit(text, link="http://cunwu.test/v/QH01")
    assert len(first) <= replies.MAX_REPLY_CHARS
    assert first.endswith("http://cunwu.test/v/QH01")
    assert rest == []


def test_fit_without_link_splits_into_parts() -> None:
    text = "。".join(["这是一句比较长的政策说明文字"] * 80)
    first, rest = replies.fit(text)
    assert rest
    assert all(len(p) <= replies.MAX_REPLY_CHARS for p in [first, *rest])
    joined = first + "".join(p.removeprefix(replies.CONTINUED) for p in rest)
    assert joined.replace("\n", "") == text


def test_every_fixed_reply_is_short() -> None:
    texts = [
        replies.welcome("0883-6712001"),
        replies.help_text("0883-6712001"),
        replies.BIND_PROMPT,
        replies.unsupported("image"),
        replies.no_answer("0883-6712001"),
    ]
    assert all(0 < len(t) <= replies.MAX_REPLY_CHARS for t in texts)


# ------------------------------------------------------------------------ the sample township


@pytest.fixture(scope="module")
def sample_matcher(sample_db: str) -> QuestionMatcher:
    """The real matcher over the sample, built once for the module (it takes a few seconds)."""
    engine = make_engine(sample_db)
    try:
        with make_sessionmaker(engine)() as session:
            return default_matcher_factory(session)
    finally:
        engine.dispose()


class CountingMatcher:
    def __init__(self, inner: QuestionMatcher) -> None:
        self.inner = inner
        self.calls: list[tuple[str, str | None]] = []

    def ask(self, question: str, village: str | None = None, township: str | None = None, top: int = 3) -> Any:
        self.calls.append((question, village))
        return self.inner.ask(question, village=village, township=township, top=top)

    def factory(self, _session: Any) -> CountingMatcher:
        return self


@pytest.fixture
def sample_url(cunwu: Cunwu) -> str:
    cunwu.ok("load-sample")
    return cunwu.url


async def test_bind_commands(make_bot: BotFactory, sample_url: str, stub: StubMatcher) -> None:
    _, wx = await make_bot(sample_url, matcher=stub, clock=TODAY)
    exact = await wx.text(OPENID, "绑定 清河村")
    assert exact.content is not None and "已为您绑定：清河镇清河村" in exact.content
    fuzzy = await wx.text(OPENID, "绑定 我是芒洪的")
    assert fuzzy.content is not None and "芒洪村" in fuzzy.content
    by_code = await wx.text(OPENID, "绑定 qh05")
    assert by_code.content is not None and "大坪村" in by_code.content
    missing = await wx.text(OPENID, "绑定 火星村")
    assert missing.content is not None and "没有找到“火星村”" in missing.content
    no_name = await wx.text(OPENID, "绑定")
    assert no_name.content is not None and "绑定 清河村" in no_name.content
    engine = make_engine(sample_url)
    with make_sessionmaker(engine)() as session:
        row = session.get(Follower, OPENID)
        assert row is not None and row.village_code == "QH05" and row.active
    engine.dispose()
    gone = await wx.text(OPENID, "解绑")
    assert gone.content is not None and "已解除与大坪村的绑定" in gone.content
    again = await wx.text(OPENID, "解绑")
    assert again.content is not None and "还没有绑定" in again.content
    assert stub.calls == []


async def test_bind_ambiguous_asks_which(make_bot: BotFactory, sample_url: str, stub: StubMatcher) -> None:
    engine = make_engine(sample_url)
    with make_sessionmaker(engine).begin() as session:
        other = Township(name="白沙镇", county="云岭县")
        session.add(other)
        session.flush()
        session.add(Village(code="BS01", name="清河村", township_id=other.id))
    engine.dispose()
    _, wx = await make_bot(sample_url, matcher=stub, clock=TODAY)
    reply = await wx.text(OPENID, "绑定 清河村")
    assert reply.content is not None and "找到多个" in reply.content
    assert "QH01" in reply.content and "BS01" in reply.content


async def test_help(make_bot: BotFactory, sample_url: str, stub: StubMatcher) -> None:
    _, wx = await make_bot(sample_url, matcher=stub, clock=TODAY)
    for word in ("帮助", "菜单"):
        reply = await wx.text(OPENID, word)
        assert reply.content is not None and "绑定 村名" in reply.content and "我村公开" in reply.content


async def test_my_village_summary(make_bot: BotFactory, sample_url: str, stub: StubMatcher) -> None:
    _, wx = await make_bot(sample_url, matcher=stub, clock=TODAY)
    before = await wx.text(OPENID, "我村公开")
    assert before.content is not None and "还没有绑定" in before.content
    await wx.text(OPENID, "绑定 芒洪村")
    reply = await wx.text(OPENID, "我村公开")
    text = reply.content
    assert text is not None and len(text) <= replies.MAX_REPLY_CHARS
    assert "芒洪村村务公开清单" in text
    assert "逾期未公开 1 项" in text and "高龄津贴发放名单公示（最近公开：2026-04-10）" in text
    assert "2026-10-27 低保新增对象公示" in text
    assert text.endswith("http://cunwu.test/v/QH03")
    page = await wx.client.get("/v/QH03")
    assert page.status == 200 and "芒洪村" in await page.text()


async def test_questions_use_the_followers_village_and_are_logged(
    make_bot: BotFactory, sample_url: str, sample_matcher: QuestionMatcher
) -> None:
    counting = CountingMatcher(sample_matcher)
    app, wx = await make_bot(sample_url, matcher=counting, clock=TODAY, budget=4.0)
    anon = await wx.text(OPENID, "低保怎么申请")
    assert anon.content is not None and "最低生活保障" in anon.content
    await wx.text(OPENID, "绑定 芒洪村")
    bound = await wx.voice(OPENID, "我们村的财务收支什么时候公开")
    assert bound.content is not None and len(bound.content) <= replies.MAX_REPLY_CHARS
    unanswered = await wx.text(OPENID, "火星上的房子怎么买")
    assert unanswered.content is not None
    assert counting.calls == [
        ("低保怎么申请", None),
        ("我们村的财务收支什么时候公开", "QH03"),
        ("火星上的房子怎么买", "QH03"),
    ]
    await app[QUESTION_LOG].flush()
    engine = make_engine(sample_url)
    with make_sessionmaker(engine)() as session:
        rows = list(session.scalars(select(QuestionLog).order_by(QuestionLog.id)))
    engine.dispose()
    assert [r.question for r in rows] == [c[0] for c in counting.calls]
    assert [r.village for r in rows] == [None, "QH03", "QH03"]
    assert rows[0].answered and rows[0].top_id and rows[0].top_kind
    assert not rows[2].answered
    assert all(r.latency_ms > 0 and r.user_hash and OPENID not in r.user_hash for r in rows)


async def test_long_answer_links_to_the_village_page(make_bot: BotFactory, sample_url: str) -> None:
    wordy = StubMatcher(reply=lambda q: "。".join([f"关于{q}的详细说明"] * 120))
    _, wx = await make_bot(sample_url, matcher=wordy, clock=TODAY)
    await wx.text(OPENID, "绑定 清河村")
    reply = await wx.text(OPENID, "低保")
    assert reply.content is not None and len(reply.content) <= replies.MAX_REPLY_CHARS
    assert reply.content.endswith("详见：http://cunwu.test/v/QH01")


async def test_long_answer_without_village_continues_as_customer_service_messages(
    make_bot: BotFactory, sample_url: str, platform: Any
) -> None:
    fake, _ = platform
    wordy = StubMatcher(reply=lambda q: "。".join([f"关于{q}的详细说明"] * 100))
    _, wx = await make_bot(sample_url, matcher=wordy, clock=TODAY)
    reply = await wx.text(OPENID, "低保")
    assert reply.content is not None and len(reply.content) <= replies.MAX_REPLY_CHARS
    import asyncio

    for _ in range(100):
        if fake.messages_for("custom_send"):
            break
        await asyncio.sleep(0.02)
    sent = fake.messages_for("custom_send")
    assert sent and sent[0]["body"]["text"]["content"].startswith(replies.CONTINUED)


def test_sample_paths_exist() -> None:
    assert (Path(__file__).resolve().parents[2] / "examples" / "qinghe" / "villages.csv").is_file()


async def test_report_questions_most_frequent_unanswered_first(
    make_bot: BotFactory, migrated_url: str, stub: StubMatcher
) -> None:
    from click.testing import CliRunner

    from admin_cli.context import CliContext
    from admin_cli.report_questions import questions
    from core.config import Settings

    app, wx = await make_bot(migrated_url, matcher=stub)
    for i, text in enumerate(["低保怎么申请", "火星上有低保吗", "火星上有低保吗？", "火星补贴", "低保怎么申请"]):
        await wx.text(f"oAsker{i:06d}", text)
    await app[QUESTION_LOG].flush()
    obj = CliContext(settings=Settings(database_url=migrated_url))
    try:
        runner = CliRunner()
        result = runner.invoke(questions, ["--json"], obj=obj, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        import json

        rows = json.loads(result.output)
        assert [(r["normalized"], r["asked"], r["unanswered"]) for r in rows] == [
            ("火星上有低保吗", 2, 2),
            ("火星补贴", 1, 1),
            ("低保怎么申请", 2, 0),
        ]
        unanswered = runner.invoke(questions, ["--unanswered", "--json"], obj=obj, catch_exceptions=False)
        assert [r["normalized"] for r in json.loads(unanswered.output)] == ["火星上有低保吗", "火星补贴"]
        later = runner.invoke(questions, ["--since", "2999-01-01"], obj=obj, catch_exceptions=False)
        assert "没有记录" in later.output
        table = runner.invoke(questions, [], obj=obj, catch_exceptions=False)
        assert "火星上有低保吗" in table.output
    finally:
        obj.close()


async def test_report_questions_shows_villagers_by_default(
    make_bot: BotFactory, migrated_url: str, stub: StubMatcher
) -> None:
    import json

    from click.testing import CliRunner

    from admin_cli.context import CliContext
    from admin_cli.report_questions import questions
    from core.config import Settings

    app, wx = await make_bot(migrated_url, matcher=stub)
    await wx.text("oSource00001", "低保怎么申请")
    assert (await wx.client.get("/api/ask", params={"q": "火星补贴"})).status == 200
    await app[QUESTION_LOG].flush()
    obj = CliContext(settings=Settings(database_url=migrated_url))
    try:
        runner = CliRunner()
        by_default = json.loads(runner.invoke(questions, ["--json"], obj=obj, catch_exceptions=False).output)
        assert [r["normalized"] for r in by_default] == ["低保怎么申请"]
        every = json.loads(runner.invoke(questions, ["--json", "--source", "all"], obj=obj).output)
        assert sorted(r["normalized"] for r in every) == ["低保怎么申请", "火星补贴"]
        api = json.loads(runner.invoke(questions, ["--json", "--source", "api"], obj=obj).output)
        assert [r["normalized"] for r in api] == ["火星补贴"]
    finally:
        obj.close()
