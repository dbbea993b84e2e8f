"""What the bot answers: commands (绑定/解绑/帮助/我村公开), questions, events and other messages.

:func:`parse_command` is pure. The sync functions (:func:`bind`, :func:`unbind`,
:func:`subscribe`) take a session and the current time, like every repository here.
:class:`Dialogue` ties them together for one inbound message: it reads what it needs (the sender's
village, the village's list) through the AsyncEngine, writes (bindings, follows) through the
:class:`~bot.writer.Writer`, and asks the matcher with one call,
:meth:`~bot.matching.MatcherHolder.ask_async`.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import unicodedata
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cachetools import TTLCache
from sqlalchemy import Connection, bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from bot import replies
from bot.matching import MatcherHolder, MatcherNotReady
from bot.question_log import QuestionLogger
from bot.writer import Writer
from core.clock import Clock, SystemClock
from village_lists.models import Follower, Village
from village_lists.page import village_text
from village_lists.repository import (
    bind_follower,
    find_villages,
    get_follower,
    mark_unsubscribed,
    unbind_follower,
)
from wechat.messages import InboundMessage

T = TypeVar("T")

# ------------------------------------------------------------------------------------------- commands

BIND = "bind"
UNBIND = "unbind"
HELP = "help"
MY_VILLAGE = "my_village"
QUESTION = "question"
EMPTY = "empty"

_BIND_RE = re.compile(r"^(?:绑定|綁定|绑订|bind)(?:村庄|村)?[\s:：,，]*(?P<arg>.*)$", re.IGNORECASE | re.DOTALL)
_UNBIND = {"解绑", "解除绑定", "取消绑定", "解綁", "unbind"}
_HELP = {"帮助", "菜单", "幫助", "help", "?", "？", "使用说明", "怎么用"}
_MY_VILLAGE = {"我村公开", "本村公开", "我村", "我的村", "村务公开", "我村的公开", "我村公开清单"}
_TRIM = " \t\r\n\u3000.。!！~～、,，"
_SENTENCE = re.compile(r"[,，。？?；;]|吗|怎么|什么|哪里")
_MAX_BIND_ARG = 20


@dataclass(frozen=True)
class Command:
    kind: str
    arg: str = ""


def parse_command(text: str) -> Command:
    """Read a villager's text: one of the commands, or a question (``arg`` holds the cleaned text)."""
    cleaned = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text or "")).strip(_TRIM)
    if not cleaned:
        return Command(EMPTY)
    lowered = cleaned.lower()
    if lowered in _UNBIND:
        return Command(UNBIND)
    if lowered in _HELP:
        return Command(HELP)
    if cleaned in _MY_VILLAGE:
        return Command(MY_VILLAGE)
    match = _BIND_RE.match(cleaned)
    if match:
        arg = match.group("arg").strip(_TRIM)
        if len(arg) <= _MAX_BIND_ARG and not _SENTENCE.search(arg):  # else a question about binding
            return Command(BIND, arg)
    return Command(QUESTION, (text or "").strip())


# --------------------------------------------------------------------------------- sync operations


def bind(session: Session, openid: str, text: str, now: dt.datetime) -> str:
    """Bind the follower to the village ``text`` names; the reply (confirmation, choice or not found)."""
    if not text:
        return replies.BIND_MISSING_NAME
    candidates = find_villages(session, text)
    if not candidates:
        return replies.bind_not_found(text)
    if len(candidates) > 1:
        return replies.bind_ambiguous([(v.code, v.name) for v in candidates])
    village = candidates[0]
    bind_follower(session, openid, village.code, now)
    return replies.bound(village.name, village.township.name if village.township else "")


def unbind(session: Session, openid: str, now: dt.datetime) -> str:
    follower = get_follower(session, openid)
    code = follower.village_code if follower is not None else None
    village = session.get(Village, code) if code else None
    unbind_follower(session, openid, now)
    return replies.unbound(village.name if village else code)


def subscribe(session: Session, openid: str, now: dt.datetime, service_phone: str = "") -> str:
    """Record a (re-)follow; the welcome text (naming the village when the binding was kept)."""
    follower = get_follower(session, openid)
    if follower is None:
        session.add(Follower(openid=openid, active=True, updated_at=now))
    else:
        follower.active = True
        follower.updated_at = now
    session.flush()
    village = session.get(Village, follower.village_code) if follower and follower.village_code else None
    return (f"欢迎回来！您已绑定{village.name}。\n" if village else "") + replies.welcome(service_phone)


# ----------------------------------------------------------------------------------------- dialogue

_FOLLOWER_VILLAGE = select(Follower.__table__.c.village_code).where(Follower.__table__.c.openid == bindparam("openid"))


@dataclass(frozen=True)
class EventContext:
    """What an event handler gets: the event (``message.raw`` holds its XML fields), an async session
    factory and the current time."""

    message: InboundMessage
    sessionmaker: async_sessionmaker[AsyncSession]
    now: dt.datetime


EventHandler = Callable[[EventContext], Awaitable[str | None]]
"""Answers an event: the reply text, or ``None`` for ``success`` (nothing shown to the villager)."""


@dataclass
class Answer:
    """The reply to one message: ``text`` (``None`` → ``success``) and parts to send after it."""

    text: str | None
    more: list[str] = field(default_factory=list)


class Dialogue:
    """Answers inbound messages; its collaborators are given in the constructor."""

    def __init__(
        self,
        engine: AsyncEngine,
        writer: Writer,
        matcher: MatcherHolder,
        question_log: QuestionLogger,
        *,
        clock: Clock | None = None,
        public_url: str = "",
        service_phone: str = "",
        village_ttl: float | None = None,
        events: Mapping[str, EventHandler] | None = None,
    ) -> None:
        """``events``: other packages' event handlers by event name (push's delivery receipts), so the
        bot never imports them; one named like the bot's own replaces it. ``village_ttl``: seconds a
        sender's village is remembered, as a question needs it and reading it costs several thread
        hops (default: 60 on SQLite, where this is the only process that binds; 30 on PostgreSQL,
        where another process may bind them). Binding forgets the sender's entry."""
        self.engine = engine
        if village_ttl is None:
            village_ttl = 60.0 if engine.dialect.name == "sqlite" else 30.0
        self.villages: TTLCache[str, str | None] = TTLCache(maxsize=20_000, ttl=village_ttl)
        self.writer = writer
        self.matcher = matcher
        self.question_log = question_log
        self.clock = clock or SystemClock()
        self.public_url = public_url.rstrip("/")
        self.service_phone = service_phone
        self.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
        self.events: dict[str, EventHandler] = {
            "subscribe": self._on_subscribe,
            "unsubscribe": self._on_unsubscribe,
            "click": self._on_click,
            **{name.lower(): handler for name, handler in (events or {}).items()},
        }

    def page_url(self, code: str) -> str:
        return f"{self.public_url}/v/{code}" if self.public_url else ""

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(session, *args)`` in the writer's next pass, on an ORM session bound to its connection."""

        def work(conn: Connection) -> T:
            with Session(bind=conn, expire_on_commit=False) as session:
                result = fn(session, *args)
                session.flush()
                return result

        return await self.writer.submit(work)

    async def village_of(self, openid: str) -> str | None:
        """The village the sender is bound to (``None``: not bound), remembered for ``village_ttl``."""
        try:
            return self.villages[openid]
        except KeyError:  # not known, or expired
            pass
        async with self.engine.connect() as conn:
            village = (await conn.execute(_FOLLOWER_VILLAGE, {"openid": openid})).scalar() or None
        self.villages[openid] = village
        return village

    # -- messages -------------------------------------------------------------------------

    async def reply_to(self, msg: InboundMessage) -> Answer:
        """The answer to a message: an event's handler (``success`` for an event nobody handles), a
        text or voice message (its recognised text), else a note."""
        if msg.msg_type == "event":
            handler = self.events.get(msg.event)
            ctx = EventContext(msg, self.sessionmaker, self.clock.now())
            return Answer(None if handler is None else await handler(ctx))
        if msg.msg_type not in ("text", "voice"):
            return Answer(replies.unsupported(msg.msg_type))
        if msg.msg_type == "voice" and not msg.recognition.strip():
            return Answer(replies.VOICE_UNRECOGNISED)
        command = parse_command(msg.text)
        openid, now = msg.from_user, self.clock.now()
        if command.kind == EMPTY:
            return Answer(replies.EMPTY_TEXT)
        if command.kind == HELP:
            return Answer(replies.help_text(self.service_phone))
        if command.kind in (BIND, UNBIND):
            self.villages.pop(openid, None)
            try:
                if command.kind == BIND:
                    return Answer(await self._write(bind, openid, command.arg, now))
                return Answer(await self._write(unbind, openid, now))
            finally:
                self.villages.pop(openid, None)
        if command.kind == MY_VILLAGE:
            return Answer(await self.my_village(openid))
        return await self.ask(openid, command.arg)

    async def my_village(self, openid: str) -> str:
        code = await self.village_of(openid)
        if not code:
            return replies.NOT_BOUND
        async with AsyncSession(self.engine) as session:
            text = await session.run_sync(village_text, code, self.clock.today())
        tail = f"\n完整清单：{self.page_url(code)}" if self.public_url else ""
        return replies.fit(text, limit=replies.MAX_REPLY_CHARS - len(tail))[0] + tail

    async def ask(self, openid: str, question: str) -> Answer:
        """A question for the matcher, with the follower's village; logged for the staff report."""
        village = await self.village_of(openid)
        started = time.perf_counter()
        try:
            result = await self.matcher.ask_async(question, village)
        except MatcherNotReady:
            return Answer(replies.STARTING if self.matcher.builds == 0 else replies.BUSY)
        latency = (time.perf_counter() - started) * 1000
        self.question_log.record(question, result, latency, village=village, openid=openid, channel="wechat")
        text = (result.reply or "").strip() or replies.no_answer(self.service_phone)
        first, more = replies.fit(text, link=self.page_url(village) if village else None)
        return Answer(first, more)

    # -- events ---------------------------------------------------------------------------

    async def _on_subscribe(self, ctx: EventContext) -> str | None:
        return await self._write(subscribe, ctx.message.from_user, ctx.now, self.service_phone)

    async def _on_unsubscribe(self, ctx: EventContext) -> str | None:
        await self._write(mark_unsubscribed, ctx.message.from_user, ctx.now)  # (the binding is kept)
        return None

    async def _on_click(self, ctx: EventContext) -> str | None:
        key = ctx.message.event_key.strip().upper()
        if key == replies.MENU_BIND:
            return replies.BIND_PROMPT
        if key == replies.MENU_MY_VILLAGE:
            return await self.my_village(ctx.message.from_user)
        return replies.help_text(self.service_phone)
