"""Fixtures shared by the wechat tests: the fake platform served over loopback and a client session.

Each test module defines its own ``platform`` fixture (a configured ``FakePlatform``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from wechat.fake_platform import FakePlatform


@pytest.fixture
async def server(platform: FakePlatform, aiohttp_server) -> TestServer:  # type: ignore[no-untyped-def]
    return await aiohttp_server(platform.make_app())


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s
