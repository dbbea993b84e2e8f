"""Where the access token lives: shared by every process through the database, or in memory.

WeChat allows 2,000 token fetches a day and a new fetch invalidates the old token after a
five-minute overlap, so every process of the service must share one token and only one of them
may fetch a new one. :class:`DbTokenStore` does that with a row per appid and a lease:

1. read the row; a token that is still valid (``expires_at`` already includes a safety margin)
   is used as is;
2. otherwise take the lease with one ``UPDATE … WHERE (refreshing_until IS NULL OR
   refreshing_until < now) AND <token stale>`` and look at the row count — exactly one process
   wins, on SQLite and on PostgreSQL alike;
3. the winner fetches and writes the new token, releasing the lease; the others poll the row
   until the new token appears (or the lease runs out and one of them takes it over).

Because the lease ``UPDATE`` also requires the token to be stale, a process that saw the old
token a moment before the winner wrote the new one cannot start a second fetch.
:meth:`~DbTokenStore.invalidate` (after errcode 40001/42001) only expires the token it was given,
so several processes hitting the same bad token cause one refresh, not one each.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Executable, Update, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import utcnow
from wechat.errors import PlatformUnavailable
from wechat.models import AccessToken

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FetchedToken:
    """A token as the platform returned it: the value and its lifetime in seconds."""

    token: str
    expires_in: float


TokenFetcher = Callable[[], Awaitable[FetchedToken]]


class TokenStore(Protocol):
    async def get_token(self, appid: str, fetch: TokenFetcher) -> str:
        """A valid token for ``appid``, calling ``fetch`` (at most once, store-wide) when none is."""
        ...

    async def invalidate(self, appid: str, token: str) -> None:
        """Mark ``token`` unusable (the platform rejected it); a newer token is left alone."""
        ...


def usable_for(expires_in: float, margin: float) -> float:
    """Seconds a token is used: its lifetime minus a margin (at most a tenth of the lifetime)."""
    return max(0.0, expires_in - min(margin, expires_in / 10))


class MemoryTokenStore:
    """A per-process store, for unit tests and single-process tools."""

    def __init__(self, *, margin: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.margin = margin
        self._clock = clock
        self._tokens: dict[str, tuple[str, float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.fetched_count = 0

    def _valid(self, appid: str) -> str | None:
        entry = self._tokens.get(appid)
        if entry and entry[1] > self._clock():
            return entry[0]
        return None

    async def get_token(self, appid: str, fetch: TokenFetcher) -> str:
        token = self._valid(appid)
        if token:
            return token
        async with self._locks.setdefault(appid, asyncio.Lock()):
            token = self._valid(appid)
            if token:
                return token
            fetched = await fetch()
            self.fetched_count += 1
            self._tokens[appid] = (fetched.token, self._clock() + usable_for(fetched.expires_in, self.margin))
            return fetched.token

    async def invalidate(self, appid: str, token: str) -> None:
        entry = self._tokens.get(appid)
        if entry and entry[0] == token:
            del self._tokens[appid]


class DbTokenStore:
    """The token in the ``wechat_access_tokens`` table, refreshed by one process at a time."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        margin: float = 300.0,
        lease_seconds: float = 30.0,
        poll_interval: float = 0.05,
        wait_timeout: float | None = None,
        now: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.margin = margin
        self.lease = dt.timedelta(seconds=lease_seconds)
        self.poll_interval = poll_interval
        self.wait_timeout = wait_timeout if wait_timeout is not None else lease_seconds + 5.0
        self._now = now
        self._cache: dict[str, tuple[str, dt.datetime]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _cached(self, appid: str) -> str | None:
        entry = self._cache.get(appid)
        if entry and entry[1] > self._now():
            return entry[0]
        return None

    async def get_token(self, appid: str, fetch: TokenFetcher) -> str:
        token = self._cached(appid)
        if token:
            return token
        async with self._locks.setdefault(appid, asyncio.Lock()):
            token = self._cached(appid)
            if token:
                return token
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.wait_timeout
            while True:
                now = self._now()
                row = await self._read(appid)
                if row is None:
                    await self._create_row(appid)
                    continue
                token, expires_at = row
                if token and expires_at is not None and expires_at > now:
                    self._cache[appid] = (token, expires_at)
                    return token
                lease_until = now + self.lease
                if await self._take_lease(appid, now, lease_until):
                    return await self._refresh(appid, fetch, lease_until)
                if loop.time() > deadline:
                    raise PlatformUnavailable("等待其他进程刷新 access_token 超时")
                await asyncio.sleep(self.poll_interval)

    async def invalidate(self, appid: str, token: str) -> None:
        entry = self._cache.get(appid)
        if entry and entry[0] == token:
            del self._cache[appid]
        now = self._now()
        where = (AccessToken.appid == appid, AccessToken.token == token, AccessToken.expires_at > now)
        await self._write(update(AccessToken).where(*where).values(expires_at=now))

    async def fetched_count(self, appid: str) -> int:
        """How many tokens have been fetched for ``appid`` through this table."""
        async with self.engine.connect() as conn:
            value = await conn.scalar(select(AccessToken.fetched_count).where(AccessToken.appid == appid))
        return int(value or 0)

    async def _read(self, appid: str) -> tuple[str, dt.datetime | None] | None:
        stmt = select(AccessToken.token, AccessToken.expires_at).where(AccessToken.appid == appid)
        async with self.engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else (row[0], row[1])

    async def _write(self, stmt: Executable) -> int:
        """Run one write in its own transaction; the number of rows it touched."""
        async with self.engine.begin() as conn:
            return int((await conn.execute(stmt)).rowcount)

    async def _create_row(self, appid: str) -> None:
        try:
            await self._write(insert(AccessToken).values(appid=appid, token="", fetched_count=0))
        except IntegrityError:  # another process created it first
            pass

    async def _take_lease(self, appid: str, now: dt.datetime, lease_until: dt.datetime) -> bool:
        stmt = (
            update(AccessToken)
            .where(
                AccessToken.appid == appid,
                or_(AccessToken.refreshing_until.is_(None), AccessToken.refreshing_until < now),
                or_(AccessToken.token == "", AccessToken.expires_at.is_(None), AccessToken.expires_at <= now),
            )
            .values(refreshing_until=lease_until)
        )
        return await self._write(stmt) == 1

    async def _refresh(self, appid: str, fetch: TokenFetcher, lease_until: dt.datetime) -> str:
        try:
            fetched = await fetch()
        except BaseException:
            await asyncio.shield(self._release(appid, lease_until))
            raise
        expires_at = self._now() + dt.timedelta(seconds=usable_for(fetched.expires_in, self.margin))
        count = AccessToken.fetched_count + 1
        stmt = _holding(appid, lease_until).values(
            token=fetched.token, expires_at=expires_at, refreshing_until=None, fetched_count=count
        )
        if await self._write(stmt) != 1:
            log.warning("access token lease for %s ran out before the fetch finished", appid)
        self._cache[appid] = (fetched.token, expires_at)
        return fetched.token

    async def _release(self, appid: str, lease_until: dt.datetime) -> None:
        try:
            await self._write(_holding(appid, lease_until).values(refreshing_until=None))
        except Exception:  # the lease runs out by itself
            log.warning("could not release the access token lease for %s", appid, exc_info=True)


def _holding(appid: str, lease_until: dt.datetime) -> Update:
    """An update of ``appid``'s row that applies only while the lease taken until ``lease_until`` is held."""
    return update(AccessToken).where(AccessToken.appid == appid, AccessToken.refreshing_until == lease_until)
