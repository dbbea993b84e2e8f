"""Fixtures for the bot: settings pointing at an in-process fake WeChat platform, a WeChat simulator
that signs and encrypts like WeChat does, and a counting stand-in matcher for dedupe/budget tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from content.matcher.results import AskResult, ResultRef
from core.config import Settings
from wechat.crypto import Crypto
from wechat.fake_platform import FakeConfig, FakePlatform
from wechat.testing import WeChatSim

TOKEN = "cunwu_test_token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APPID = "wx_fake_appid"
SECRET = "fake_app_secret"
ACCOUNT = "gh_cunwu"


# ------------------------------------------------------------------------------ stand-in matcher


class StubMatcher:
    """Answers every question with ``答：<question>``; counts calls; ``delay`` slows it (in its thread)."""

    def __init__(self, delay: float = 0.0, reply: Callable[[str], str] | None = None) -> None:
        self.delay = delay
        self.calls: list[tuple[str, str | None]] = []
        self._lock = threading.Lock()
        self._reply = reply or (lambda q: f"答：{q}")

    def ask(self, question: str, village: str | None = None, township: str | None = None, top: int = 3) -> AskResult:
        with self._lock:
            self.calls.append((question, village))
        if self.delay:
            time.sleep(self.delay)
        unanswered = "火星" in question
        return AskResult(
            answered=not unanswered,
            reply="" if unanswered else self._reply(question),
            results=() if unanswered else (ResultRef("catalog", "19-001", question, 1.0),),
            ms=0.1,
            normalized=question.strip("？?"),
        )

    def factory(self, _session: Any) -> StubMatcher:
        return self


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
        kwargs.setdefault("wechat_max_retries", 1)
        factory = matcher.factory if matcher is not None else None
        app = create_app(settings, matcher_factory=factory, **kwargs)
        client = await aiohttp_client(app)
        return app, WeChatSim(client, crypto if safe else None, TOKEN, account=ACCOUNT)

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
