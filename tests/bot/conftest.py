"""Fixtures for the bot: settings pointing at an in-process fake WeChat platform, a WeChat simulator
that signs and encrypts like WeChat does, and a counting stand-in matcher for dedupe/budget tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from core.config import Settings
from wechat.fake_platform import FakeConfig, FakePlatform
from wechat.messages import (
    Crypto,
    build_event_xml,
    build_signed_post,
    build_text_xml,
    build_voice_xml,
    parse_xml,
)

TOKEN = "cunwu_test_token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APPID = "wx_fake_appid"
SECRET = "fake_app_secret"
ACCOUNT = "gh_cunwu"


# ------------------------------------------------------------------------------ stand-in matcher


@dataclass
class StubResult:
    question: str
    village: str | None
    answered: bool = True
    reply: str = ""
    ms: float = 0.1
    normalized: str = ""
    results: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "village": self.village,
            "answered": self.answered,
            "reply": self.reply,
            "results": self.results,
            "ms": self.ms,
            "normalized": self.normalized,
        }


class StubMatcher:
    """Answers every question with ``答：<question>``; counts calls; ``delay`` slows it (in its thread)."""

    def __init__(self, delay: float = 0.0, reply: Callable[[str], str] | None = None) -> None:
        self.delay = delay
        self.calls: list[tuple[str, str | None]] = []
        self._lock = threading.Lock()
        self._reply = reply or (lambda q: f"答：{q}")

    def ask(self, question: str, village: str | None = None, township: str | None = None, top: int = 3) -> StubResult:
        with self._lock:
            self.calls.append((question, village))
        if self.delay:
            time.sleep(self.delay)
        unanswered = "火星" in question
        return StubResult(
            question=question,
            village=village,
            answered=not unanswered,
            reply="" if unanswered else self._reply(question),
            normalized=question.strip("？?"),
            results=[] if unanswered else [{"id": "19-001", "kind": "catalog", "score": 1.0}],
        )

    def factory(self, _session: Any) -> StubMatcher:
        return self


# ----------------------------------------------------------------------------- WeChat simulator


@dataclass
class Reply:
    status: int
    body: str
    content: str | None  # the text reply's Content (decrypted); None for success / non-XML


class WeChatSim:
    """Posts what WeChat posts: signed, and encrypted when ``crypto`` is set."""

    def __init__(self, client: TestClient[Any, Any], crypto: Crypto | None, token: str = TOKEN) -> None:
        self.client = client
        self.crypto = crypto
        self.token = token

    async def post(self, xml: str, *, openid: str, timestamp: str | None = None, nonce: str | None = None) -> Reply:
        params, body = build_signed_post(
            self.token, xml, openid=openid, crypto=self.crypto, to_user=ACCOUNT, timestamp=timestamp, nonce=nonce
        )
        resp = await self.client.post("/wechat", params=params, data=body.encode("utf-8"))
        text = await resp.text()
        return Reply(resp.status, text, self.open(text) if resp.status == 200 else None)

    def open(self, body: str) -> str | None:
        if not body or body == "success":
            return None
        xml = self.crypto.decrypt_reply(body) if self.crypto is not None else body
        fields = parse_xml(xml)
        assert fields["MsgType"] == "text"
        content: str = fields["Content"]
        return content

    async def text(self, openid: str, content: str, *, msg_id: int | None = None, **kw: Any) -> Reply:
        return await self.post(build_text_xml(ACCOUNT, openid, content, msg_id=msg_id), openid=openid, **kw)

    async def voice(self, openid: str, recognition: str, *, msg_id: int | None = None) -> Reply:
        return await self.post(build_voice_xml(ACCOUNT, openid, recognition, msg_id=msg_id), openid=openid)

    async def event(self, openid: str, event: str, key: str = "", *, create_time: int | None = None) -> Reply:
        return await self.post(build_event_xml(ACCOUNT, openid, event, key, create_time=create_time), openid=openid)


# ------------------------------------------------------------------------------------- fixtures


@pytest.fixture
async def platform(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> tuple[FakePlatform, str]:
    fake = FakePlatform(FakeConfig(appid=APPID, secret=SECRET))
    server = await aiohttp_server(fake.make_app())
    return fake, str(server.make_url("")).rstrip("/")


def make_settings(db_url: str, api_base: str, *, safe: bool = True, budget: float = 1.5) -> Settings:
    return Settings(
        database_url=db_url,
        public_url="http://cunwu.test",
        wechat_appid=APPID,
        wechat_secret=SECRET,
        wechat_token=TOKEN,
        wechat_aes_key=AES_KEY if safe else "",
        wechat_api_base=api_base,
        reply_budget_seconds=budget,
        service_phone="0883-6712001",
    )


@pytest.fixture
def stub() -> StubMatcher:
    return StubMatcher()


@pytest.fixture
def crypto() -> Crypto:
    return Crypto(TOKEN, AES_KEY, APPID)


BotFactory = Callable[..., Awaitable[tuple[web.Application, WeChatSim]]]


@pytest.fixture
def make_bot(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
    platform: tuple[FakePlatform, str],
    crypto: Crypto,
) -> BotFactory:
    """``await make_bot(db_url, matcher=..., safe=True, budget=1.5)`` → (app, simulator)."""

    async def make(
        db_url: str,
        *,
        matcher: Any = None,
        safe: bool = True,
        budget: float = 1.5,
        **kwargs: Any,
    ) -> tuple[web.Application, WeChatSim]:
        settings = make_settings(db_url, platform[1], safe=safe, budget=budget)
        kwargs.setdefault("log_flush_interval", 0.05)
        kwargs.setdefault("wechat_max_retries", 1)
        factory = matcher.factory if matcher is not None else None
        app = create_app(settings, matcher_factory=factory, **kwargs)
        client = await aiohttp_client(app)
        return app, WeChatSim(client, crypto if safe else None)

    return make


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite file with the sample township loaded, made once per test module."""
    from core.db import make_engine
    from core.schema import upgrade
    from tests.conftest import Cunwu

    url = f"sqlite:///{tmp_path_factory.mktemp('sample') / 'sample.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    Cunwu(url).ok("load-sample")
    return url


def seed_follower(engine: Any, openid: str, village: str = "QH01") -> None:
    """A township with one village, and a follower bound to it (for claims that read the village)."""
    from content.models import Township
    from core.db import make_sessionmaker, utcnow
    from village_lists.models import Follower, Village

    with make_sessionmaker(engine).begin() as session:
        township = Township(name="清河镇")
        session.add(township)
        session.flush()
        session.add(Village(code=village, name="芒洪村", township_id=township.id))
        session.flush()
        session.add(Follower(openid=openid, village_code=village, active=True, updated_at=utcnow()))


def fail_on(monkeypatch: pytest.MonkeyPatch, deduper: Any, key: str) -> None:
    """Make the claim of ``key`` fail in the database layer (it stands for any error on one row)."""
    driver = deduper._claim_driver
    real = driver.params

    def params(row: dict[str, Any]) -> Any:
        if row["dedupe_key"] == key:
            raise RuntimeError(f"cannot claim {key}")
        return real(row)

    monkeypatch.setattr(driver, "params", params)
