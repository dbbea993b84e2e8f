"""The async client of the official-account API (aiohttp), used by the bot and by push.

Unlike wechatpy's blocking client: every call has a timeout (the token fetch too); -1, HTTP 5xx
and network errors are retried a bounded number of times with exponential backoff and jitter;
40001/42001 cause exactly one token refresh and one retry; other error codes raise the typed
errors of :mod:`wechat.errors` at once (45009 quota is never retried). The access token comes
from a :class:`~wechat.token_store.TokenStore`, shared by all processes when it is the database.

Requests are JSON encoded with ``ensure_ascii=False`` (WeChat stores ``\\uXXXX`` escapes literally
in some APIs). Note that a send whose answer was lost to a timeout is retried, so a network
failure can (rarely) deliver a customer-service or template message twice; mass sends are
protected by ``clientmsgid``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from core.config import Settings
from core.errors import ConfigError
from wechat.errors import TOKEN_ERRCODES, PlatformBusy, PlatformUnavailable, TokenInvalid, WeChatError, error_for
from wechat.token_store import FetchedToken, TokenStore

log = logging.getLogger(__name__)

TAG_BATCH = 50
"""WeChat tags at most 50 openids per call (errcode 40032 above)."""
DUPLICATE_MASS_SEND = 45065
BACKOFF, MAX_BACKOFF = 0.5, 8.0
"""Seconds before the first retry, and the longest wait between two; jittered down by up to half."""

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Tag:
    id: int
    name: str
    count: int = 0


@dataclass(frozen=True)
class MassSendResult:
    """``duplicate`` is true when WeChat already had a mass send with this ``clientmsgid``."""

    msg_id: int | None
    msg_data_id: int | None
    duplicate: bool = False


class WeChatClient:
    """One official account's API. ``session`` is owned by the caller (one per process)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        appid: str,
        secret: str,
        api_base: str,
        token_store: TokenStore,
        *,
        timeout: float = 10.0,
        max_retries: int = 3,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self._session = session
        self.appid = appid
        self._secret = secret
        self.api_base = api_base.rstrip("/")
        self._store = token_store
        self.timeout = timeout
        self.max_retries = max_retries
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"WeChatClient(appid={self.appid!r}, api_base={self.api_base!r}, secret=***)"

    # -- access token ---------------------------------------------------------------------

    async def access_token(self) -> str:
        """A valid access token (fetched only when the shared store has none)."""
        return await self._store.get_token(self.appid, self._fetch_token)

    async def _fetch_token(self) -> FetchedToken:
        """A new token from ``/cgi-bin/token``."""
        credentials = {"grant_type": "client_credential", "appid": self.appid, "secret": self._secret}
        payload = await self._request("GET", "/cgi-bin/token", params=credentials)
        token = payload.get("access_token")
        expires_in = payload.get("expires_in", 7200)
        if not isinstance(token, str) or not token or not isinstance(expires_in, int | float):
            raise WeChatError("微信平台返回的 access_token 格式不正确")
        log.info("fetched a new access token for %s (expires in %ss)", self.appid, expires_in)
        return FetchedToken(token=token, expires_in=float(expires_in))

    # -- transport ------------------------------------------------------------------------

    async def _api(self, method: str, path: str, json_body: Any = None, *, accept: int = 0) -> dict[str, Any]:
        """Call an API that needs the access token: one refresh and one retry on 40001/42001."""
        token = await self.access_token()
        try:
            return await self._request(method, path, token=token, json_body=json_body, accept=accept)
        except TokenInvalid as exc:
            log.info("access token rejected (errcode %s); refreshing once", exc.errcode)
            await self._store.invalidate(self.appid, token)
        token = await self._store.get_token(self.appid, self._fetch_token)
        return await self._request(method, path, token=token, json_body=json_body, accept=accept)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        accept: int = 0,
    ) -> dict[str, Any]:
        """One API call with bounded retries on -1, HTTP 5xx and network errors; ``accept`` is an
        ``errcode`` answered as a success."""
        query = dict(params or {})
        if token is not None:
            query["access_token"] = token
        attempt = 0
        while True:
            try:
                return await self._once(method, path, query, json_body, accept)
            except (PlatformBusy, PlatformUnavailable) as error:
                if attempt >= self.max_retries:
                    raise
                delay = min(MAX_BACKOFF, BACKOFF * 2**attempt) * (0.5 + random.random() / 2)
                attempt += 1
                log.warning("%s %s failed (%s); retry %d in %.2fs", method, path, error.detail, attempt, delay)
                await self._sleep(delay)

    async def _once(
        self, method: str, path: str, query: Mapping[str, str], json_body: Any, accept: int
    ) -> dict[str, Any]:
        data = None if json_body is None else json.dumps(json_body, ensure_ascii=False).encode("utf-8")
        headers = {} if data is None else {"Content-Type": "application/json; charset=utf-8"}
        try:
            async with self._session.request(
                method,
                self.api_base + path,
                params=query,
                data=data,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as resp:
                status = resp.status
                raw = await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            # the exception text may carry the URL with secret or token: keep only its type
            raise PlatformUnavailable(detail=f"{path}: {type(exc).__name__}") from None
        if status >= 500:
            raise PlatformBusy(detail=f"{path}: HTTP {status}")
        if status != 200:
            raise WeChatError(f"微信平台返回 HTTP {status}", detail=path)
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise PlatformBusy(detail=f"{path}: response is not a JSON object")
        try:
            errcode = int(payload.get("errcode") or 0)
        except (TypeError, ValueError):
            raise WeChatError("微信平台返回的 errcode 格式不正确", detail=path) from None
        if errcode == 0 or errcode == accept:
            return payload
        errmsg = str(payload.get("errmsg") or "")
        if errcode not in TOKEN_ERRCODES:
            log.info("%s failed: errcode %s %s", path, errcode, errmsg)
        raise error_for(errcode, errmsg)

    # -- API calls ------------------------------------------------------------------------

    async def send_custom_text(self, openid: str, text: str) -> None:
        """A customer-service (客服) text message; 45015/43004/45047/40003 raise typed errors."""
        body = {"touser": openid, "msgtype": "text", "text": {"content": text}}
        await self._api("POST", "/cgi-bin/message/custom/send", body)

    async def send_template(
        self,
        openid: str,
        template_id: str,
        data: Mapping[str, str | Mapping[str, str]],
        url: str | None = None,
    ) -> int | None:
        """A template message; ``data`` values are strings or ``{"value": …, "color": …}``. Returns msgid."""
        fields = {key: ({"value": value} if isinstance(value, str) else dict(value)) for key, value in data.items()}
        body: dict[str, Any] = {"touser": openid, "template_id": template_id, "data": fields}
        if url:
            body["url"] = url
        msgid = (await self._api("POST", "/cgi-bin/message/template/send", body)).get("msgid")
        return msgid if isinstance(msgid, int) else None

    async def create_tag(self, name: str) -> int:
        """Create a user tag (≤ 30 characters, unique); returns its id."""
        tag = (await self._api("POST", "/cgi-bin/tags/create", {"tag": {"name": name}})).get("tag")
        if not isinstance(tag, dict) or not isinstance(tag.get("id"), int):
            raise WeChatError("微信平台返回的标签格式不正确")
        return int(tag["id"])

    async def list_tags(self) -> list[Tag]:
        tags = (await self._api("GET", "/cgi-bin/tags/get")).get("tags") or []
        return [Tag(id=int(t["id"]), name=str(t.get("name", "")), count=int(t.get("count", 0))) for t in tags]

    async def tag_users(self, tag_id: int, openids: Sequence[str]) -> None:
        """Tag openids, 50 a call."""
        await self._tagging("batchtagging", tag_id, openids)

    async def untag_users(self, tag_id: int, openids: Sequence[str]) -> None:
        """Remove a tag from openids, 50 a call."""
        await self._tagging("batchuntagging", tag_id, openids)

    async def _tagging(self, api: str, tag_id: int, openids: Sequence[str]) -> None:
        for start in range(0, len(openids), TAG_BATCH):
            body = {"openid_list": list(openids[start : start + TAG_BATCH]), "tagid": tag_id}
            await self._api("POST", f"/cgi-bin/tags/members/{api}", body)

    async def mass_send_text_by_tag(self, tag_id: int, text: str, clientmsgid: str) -> MassSendResult:
        """Mass-send (群发) a text to the followers with a tag; ``clientmsgid`` (≤ 64 chars) deduplicates."""
        if not clientmsgid or len(clientmsgid) > 64:
            raise ValueError("clientmsgid must be 1–64 characters")
        body = {
            "filter": {"is_to_all": False, "tag_id": tag_id},
            "text": {"content": text},
            "msgtype": "text",
            "send_ignore_reprint": 0,
            "clientmsgid": clientmsgid,
        }
        payload = await self._api("POST", "/cgi-bin/message/mass/sendall", body, accept=DUPLICATE_MASS_SEND)
        msg_id, msg_data_id = payload.get("msg_id"), payload.get("msg_data_id")
        return MassSendResult(
            msg_id=msg_id if isinstance(msg_id, int) else None,
            msg_data_id=msg_data_id if isinstance(msg_data_id, int) else None,
            duplicate=int(payload.get("errcode") or 0) == DUPLICATE_MASS_SEND,
        )


def client_from_settings(
    session: aiohttp.ClientSession, settings: Settings, token_store: TokenStore, **kwargs: Any
) -> WeChatClient:
    """A client for the account in ``settings`` (CUNWU_WECHAT_APPID/SECRET/API_BASE)."""
    if not settings.wechat_appid or not settings.wechat_secret:
        raise ConfigError("请先设置 CUNWU_WECHAT_APPID 与 CUNWU_WECHAT_SECRET")
    return WeChatClient(
        session, settings.wechat_appid, settings.wechat_secret, settings.wechat_api_base, token_store, **kwargs
    )
