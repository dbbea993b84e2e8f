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
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from core.config import Settings
from core.errors import ConfigError
from wechat.errors import (
    TOKEN_ERRCODES,
    PlatformBusy,
    PlatformUnavailable,
    TokenInvalid,
    WeChatError,
    error_for,
)
from wechat.token_store import FetchedToken, TokenStore

log = logging.getLogger(__name__)

TAG_BATCH = 50
"""WeChat tags at most 50 openids per call (errcode 40032 above)."""
MEDIA_KINDS = frozenset({"image", "voice", "video", "thumb"})
DUPLICATE_MASS_SEND = 45065

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


class _Retry(Exception):
    def __init__(self, error: WeChatError) -> None:
        super().__init__(str(error))
        self.error = error


def _chunks(items: Sequence[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


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
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        use_stable_token: bool = False,
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
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.use_stable_token = use_stable_token
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"WeChatClient(appid={self.appid!r}, api_base={self.api_base!r}, secret=***)"

    # -- access token ---------------------------------------------------------------------

    async def access_token(self) -> str:
        """A valid access token (fetched only when the shared store has none)."""
        return await self._store.get_token(self.appid, self._fetch_token)

    async def _fetch_token(self, *, force: bool = False) -> FetchedToken:
        if self.use_stable_token:
            body = {
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self._secret,
                "force_refresh": force,
            }
            payload = await self._request("POST", "/cgi-bin/stable_token", json_body=body)
        else:
            params = {"grant_type": "client_credential", "appid": self.appid, "secret": self._secret}
            payload = await self._request("GET", "/cgi-bin/token", params=params)
        token = payload.get("access_token")
        expires_in = payload.get("expires_in", 7200)
        if not isinstance(token, str) or not token or not isinstance(expires_in, int | float):
            raise WeChatError("微信平台返回的 access_token 格式不正确")
        log.info("fetched a new access token for %s (expires in %ss)", self.appid, expires_in)
        return FetchedToken(token=token, expires_in=float(expires_in))

    async def _forced_fetch(self) -> FetchedToken:
        return await self._fetch_token(force=True)

    # -- transport ------------------------------------------------------------------------

    async def _api(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        form: Callable[[], aiohttp.FormData] | None = None,
        accept: frozenset[int] = frozenset(),
    ) -> dict[str, Any]:
        """Call an API that needs the access token: one refresh and one retry on 40001/42001."""
        token = await self.access_token()
        try:
            return await self._request(
                method, path, token=token, params=params, json_body=json_body, form=form, accept=accept
            )
        except TokenInvalid as exc:
            log.info("access token rejected (errcode %s); refreshing once", exc.errcode)
            await self._store.invalidate(self.appid, token)
        fetch = self._forced_fetch if self.use_stable_token else self._fetch_token
        token = await self._store.get_token(self.appid, fetch)
        return await self._request(
            method, path, token=token, params=params, json_body=json_body, form=form, accept=accept
        )

    async def _request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        form: Callable[[], aiohttp.FormData] | None = None,
        accept: frozenset[int] = frozenset(),
    ) -> dict[str, Any]:
        """One API call with bounded retries on -1, HTTP 5xx and network errors."""
        query = dict(params or {})
        if token is not None:
            query["access_token"] = token
        url = self.api_base + path
        attempt = 0
        while True:
            try:
                return await self._once(method, url, path, query, json_body, form, accept)
            except _Retry as retry:
                if attempt >= self.max_retries:
                    raise retry.error from None
                delay = min(self.max_backoff, self.backoff * 2**attempt) * (0.5 + random.random() / 2)
                attempt += 1
                log.warning("%s %s failed (%s); retry %d in %.2fs", method, path, retry.error.detail, attempt, delay)
                await self._sleep(delay)

    async def _once(
        self,
        method: str,
        url: str,
        path: str,
        query: Mapping[str, str],
        json_body: Any,
        form: Callable[[], aiohttp.FormData] | None,
        accept: frozenset[int],
    ) -> dict[str, Any]:
        data: Any = None
        headers: dict[str, str] = {}
        if form is not None:
            data = form()
        elif json_body is not None:
            data = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json; charset=utf-8"
        try:
            async with self._session.request(
                method,
                url,
                params=query,
                data=data,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as resp:
                status = resp.status
                raw = await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            # the exception text may carry the URL with secret or token: keep only its type
            raise _Retry(PlatformUnavailable(detail=f"{path}: {type(exc).__name__}")) from None
        if status >= 500:
            raise _Retry(PlatformBusy(detail=f"{path}: HTTP {status}"))
        if status != 200:
            raise WeChatError(f"微信平台返回 HTTP {status}", detail=path)
        try:
            payload = json.loads(raw)
        except ValueError:
            raise _Retry(PlatformBusy(detail=f"{path}: response is not JSON")) from None
        if not isinstance(payload, dict):
            raise _Retry(PlatformBusy(detail=f"{path}: response is not a JSON object"))
        try:
            errcode = int(payload.get("errcode") or 0)
        except (TypeError, ValueError):
            raise WeChatError("微信平台返回的 errcode 格式不正确", detail=path) from None
        errmsg = str(payload.get("errmsg") or "")
        if errcode == 0 or errcode in accept:
            return payload
        error = error_for(errcode, errmsg)
        if errcode == -1:
            raise _Retry(error)
        if errcode not in TOKEN_ERRCODES:
            log.info("%s failed: errcode %s %s", path, errcode, errmsg)
        raise error

    # -- API calls ------------------------------------------------------------------------

    async def send_custom_text(self, openid: str, text: str) -> None:
        """A customer-service (客服) text message; 45015/43004/45047/40003 raise typed errors."""
        body = {"touser": openid, "msgtype": "text", "text": {"content": text}}
        await self._api("POST", "/cgi-bin/message/custom/send", json_body=body)

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
        payload = await self._api("POST", "/cgi-bin/message/template/send", json_body=body)
        msgid = payload.get("msgid")
        return int(msgid) if isinstance(msgid, int) else None

    async def create_tag(self, name: str) -> int:
        """Create a user tag (≤ 30 characters, unique); returns its id."""
        payload = await self._api("POST", "/cgi-bin/tags/create", json_body={"tag": {"name": name}})
        tag = payload.get("tag")
        if not isinstance(tag, dict) or not isinstance(tag.get("id"), int):
            raise WeChatError("微信平台返回的标签格式不正确")
        return int(tag["id"])

    async def list_tags(self) -> list[Tag]:
        payload = await self._api("GET", "/cgi-bin/tags/get")
        tags = payload.get("tags") or []
        return [Tag(id=int(t["id"]), name=str(t.get("name", "")), count=int(t.get("count", 0))) for t in tags]

    async def tag_users(self, tag_id: int, openids: Sequence[str]) -> None:
        """Tag openids, 50 a call."""
        for chunk in _chunks(openids, TAG_BATCH):
            body = {"openid_list": chunk, "tagid": tag_id}
            await self._api("POST", "/cgi-bin/tags/members/batchtagging", json_body=body)

    async def untag_users(self, tag_id: int, openids: Sequence[str]) -> None:
        """Remove a tag from openids, 50 a call."""
        for chunk in _chunks(openids, TAG_BATCH):
            body = {"openid_list": chunk, "tagid": tag_id}
            await self._api("POST", "/cgi-bin/tags/members/batchuntagging", json_body=body)

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
        payload = await self._api(
            "POST", "/cgi-bin/message/mass/sendall", json_body=body, accept=frozenset({DUPLICATE_MASS_SEND})
        )
        msg_id = payload.get("msg_id")
        msg_data_id = payload.get("msg_data_id")
        return MassSendResult(
            msg_id=int(msg_id) if isinstance(msg_id, int) else None,
            msg_data_id=int(msg_data_id) if isinstance(msg_data_id, int) else None,
            duplicate=int(payload.get("errcode") or 0) == DUPLICATE_MASS_SEND,
        )

    async def upload_media(self, kind: str, filename: str, data: bytes, content_type: str | None = None) -> str:
        """Upload a temporary media file (image, voice, video, thumb; kept 3 days); returns media_id."""
        if kind not in MEDIA_KINDS:
            raise ValueError(f"media kind must be one of {sorted(MEDIA_KINDS)}")

        def form() -> aiohttp.FormData:
            fd = aiohttp.FormData()
            fd.add_field("media", data, filename=filename, content_type=content_type or "application/octet-stream")
            return fd

        payload = await self._api("POST", "/cgi-bin/media/upload", params={"type": kind}, form=form)
        media_id = payload.get("media_id")
        if not isinstance(media_id, str) or not media_id:
            raise WeChatError("微信平台返回的 media_id 格式不正确")
        return media_id


def client_from_settings(
    session: aiohttp.ClientSession, settings: Settings, token_store: TokenStore, **kwargs: Any
) -> WeChatClient:
    """A client for the account in ``settings`` (CUNWU_WECHAT_APPID/SECRET/API_BASE)."""
    if not settings.wechat_appid or not settings.wechat_secret:
        raise ConfigError("请先设置 CUNWU_WECHAT_APPID 与 CUNWU_WECHAT_SECRET")
    return WeChatClient(
        session, settings.wechat_appid, settings.wechat_secret, settings.wechat_api_base, token_store, **kwargs
    )
