"""The shared access token: several engines (and several OS processes) fetch it exactly once."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import textwrap

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from core.db import make_async_engine
from wechat.client import WeChatClient
from wechat.errors import PlatformUnavailable
from wechat.fake_platform import FakeConfig, FakePlatform
from wechat.models import AccessToken
from wechat.token_store import DbTokenStore, FetchedToken, MemoryTokenStore, usable_for

SECRET = "shared_secret"


@pytest.fixture
def platform() -> FakePlatform:
    return FakePlatform(FakeConfig(appid="wx_shared", secret=SECRET, latency_ms=20))


def test_usable_for() -> None:
    assert usable_for(7200, 300) == 6900
    assert usable_for(10, 300) == 9


async def test_memory_store_single_flight() -> None:
    store = MemoryTokenStore()
    calls = 0

    async def fetch() -> FetchedToken:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return FetchedToken(f"t{calls}", 7200)

    tokens = await asyncio.gather(*(store.get_token("wx", fetch) for _ in range(20)))
    assert set(tokens) == {"t1"} and calls == 1
    await store.invalidate("wx", "stale-other")  # not the current token: ignored
    assert await store.get_token("wx", fetch) == "t1"
    await store.invalidate("wx", "t1")
    assert await store.get_token("wx", fetch) == "t2"


async def test_two_engines_share_one_token(
    migrated_url: str, server: TestServer, platform: FakePlatform, session: aiohttp.ClientSession
) -> None:
    engines = [make_async_engine(migrated_url) for _ in range(2)]
    try:
        clients = [
            WeChatClient(
                session, "wx_shared", SECRET, str(server.make_url("")), DbTokenStore(engine, poll_interval=0.01)
            )
            for engine in engines
        ]
        sends = [c.send_custom_text(f"o_user_{i}", "通知") for i in range(10) for c in clients]
        await asyncio.gather(*sends)
        assert platform.token_fetches == 1
        assert len(platform.messages) == 20

        platform.expire_tokens()  # every process now holds an expired token in its cache
        sends = [c.send_custom_text(f"o_user_{i}", "再通知") for i in range(10) for c in clients]
        await asyncio.gather(*sends)
        assert platform.token_fetches == 2  # exactly one fetch per expiry
        assert len(platform.messages) == 40

        async with engines[0].connect() as conn:
            row = (await conn.execute(select(AccessToken))).one()
        assert row.fetched_count == 2 and row.refreshing_until is None
        assert row.token in platform.tokens
    finally:
        for engine in engines:
            await engine.dispose()


async def test_fetch_failure_releases_the_lease(migrated_url: str) -> None:
    engine = make_async_engine(migrated_url)
    try:
        store = DbTokenStore(engine)

        async def broken() -> FetchedToken:
            raise PlatformUnavailable()

        async def works() -> FetchedToken:
            return FetchedToken("good", 7200)

        with pytest.raises(PlatformUnavailable):
            await store.get_token("wx", broken)
        assert await store.get_token("wx", works) == "good"  # not blocked by a leftover lease
        assert await store.fetched_count("wx") == 1
    finally:
        await engine.dispose()


async def test_invalidate_only_the_given_token(migrated_url: str) -> None:
    engine = make_async_engine(migrated_url)
    try:
        store = DbTokenStore(engine)
        n = 0

        async def fetch() -> FetchedToken:
            nonlocal n
            n += 1
            return FetchedToken(f"t{n}", 7200)

        assert await store.get_token("wx", fetch) == "t1"
        await store.invalidate("wx", "t1")
        assert await store.get_token("wx", fetch) == "t2"
        await store.invalidate("wx", "t1")  # a late report about the old token changes nothing
        other = DbTokenStore(engine)
        assert await other.get_token("wx", fetch) == "t2"
        assert n == 2
    finally:
        await engine.dispose()


async def test_a_dead_lease_is_taken_over(migrated_url: str) -> None:
    engine = make_async_engine(migrated_url)
    try:
        stuck = asyncio.Event()

        async def hangs() -> FetchedToken:
            stuck.set()
            await asyncio.sleep(30)
            raise AssertionError("unreachable")

        async def works() -> FetchedToken:
            return FetchedToken("fresh", 7200)

        dying = DbTokenStore(engine, lease_seconds=0.3)
        task = asyncio.create_task(dying.get_token("wx", hangs))
        await stuck.wait()
        survivor = DbTokenStore(engine, lease_seconds=0.3, poll_interval=0.02)
        started = asyncio.get_running_loop().time()
        assert await survivor.get_token("wx", works) == "fresh"
        assert asyncio.get_running_loop().time() - started >= 0.2  # it waited for the lease to run out
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        await engine.dispose()


async def test_waiting_is_bounded(migrated_url: str) -> None:
    engine = make_async_engine(migrated_url)
    try:
        now = dt.datetime.now(dt.UTC)
        async with engine.begin() as conn:
            await conn.execute(
                AccessToken.__table__.insert().values(
                    appid="wx", token="", fetched_count=0, refreshing_until=now + dt.timedelta(hours=1)
                )
            )

        async def fetch() -> FetchedToken:
            raise AssertionError("the lease is held elsewhere")

        store = DbTokenStore(engine, wait_timeout=0.2, poll_interval=0.02)
        with pytest.raises(PlatformUnavailable):
            await store.get_token("wx", fetch)
    finally:
        await engine.dispose()


PROCESS = textwrap.dedent(
    """
    import asyncio, sys
    import aiohttp
    from core.db import make_async_engine
    from wechat.client import WeChatClient
    from wechat.token_store import DbTokenStore

    async def main(url, base, name):
        engine = make_async_engine(url)
        async with aiohttp.ClientSession() as session:
            client = WeChatClient(session, "wx_shared", "shared_secret", base, DbTokenStore(engine, poll_interval=0.01))
            await asyncio.gather(*(client.send_custom_text(f"o_{name}_{i}", "x") for i in range(8)))
        await engine.dispose()

    asyncio.run(main(*sys.argv[1:4]))
    """
)


async def _run_processes(url: str, base: str, tag: str) -> None:
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", PROCESS, url, base, f"{tag}{i}", stderr=asyncio.subprocess.PIPE
        )
        for i in range(2)
    ]
    for proc in procs:
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()


async def test_two_processes_share_one_token(migrated_url: str, server: TestServer, platform: FakePlatform) -> None:
    base = str(server.make_url("")).rstrip("/")
    await _run_processes(migrated_url, base, "a")
    assert platform.token_fetches == 1
    assert len(platform.messages) == 16
    platform.expire_tokens()
    # the token row still looks valid to the new processes: the first 42001 invalidates it once
    await _run_processes(migrated_url, base, "b")
    assert platform.token_fetches == 2
    assert len(platform.messages) == 32
