"""Errors of the WeChat platform layer, mirroring WeChat's error codes.

``AppError``
└── ``WeChatError``               any platform error; ``errcode`` / ``errmsg`` as WeChat sent them
    ├── ``InvalidRequest``        an inbound request we refuse: malformed XML, decrypt failure …
    │   └── ``BadSignature``      signature or msg_signature does not match
    ├── ``TokenInvalid``          40001 / 40014 / 42001: access token invalid or expired
    ├── ``QuotaExceeded``         45009: daily API quota used up (not retried)
    ├── ``OutsideWindow``         45015 / 43004: past the 48-hour window, or the user unfollowed
    ├── ``CustomerServiceLimit``  45047: customer-service message count used up
    ├── ``BadOpenId``             40003: the openid is not a follower of this account
    ├── ``RateLimited``           130101: a WeCom robot sent too often
    ├── ``PlatformBusy``          -1 or HTTP 5xx, still failing after the bounded retries
    └── ``PlatformUnavailable``   network errors and timeouts after the bounded retries

Every wechatpy exception raised on bad inbound input is wrapped into :class:`InvalidRequest`,
so callers catch one type. :func:`error_for` maps an ``errcode`` to its class.
"""

from __future__ import annotations

from core.errors import AppError


class WeChatError(AppError):
    """An error from (or about) the WeChat platform. ``errcode`` 0 means "not a platform code"."""

    default_message = "微信平台返回错误"

    def __init__(
        self,
        message: str | None = None,
        *,
        errcode: int = 0,
        errmsg: str = "",
        detail: str | None = None,
    ) -> None:
        text = message or self.default_message
        if errcode:
            text = f"{text}（errcode={errcode}）"
        super().__init__(text, detail=detail)
        self.errcode = errcode
        self.errmsg = errmsg

    def __repr__(self) -> str:
        return f"{type(self).__name__}(errcode={self.errcode}, errmsg={self.errmsg!r})"


class InvalidRequest(WeChatError):
    default_message = "无效的微信请求"


class BadSignature(InvalidRequest):
    default_message = "微信请求签名不正确"


class TokenInvalid(WeChatError):
    default_message = "access_token 无效或已过期"


class QuotaExceeded(WeChatError):
    default_message = "接口调用次数已达上限"


class OutsideWindow(WeChatError):
    default_message = "用户不在 48 小时互动窗口内或未关注公众号"


class CustomerServiceLimit(WeChatError):
    default_message = "客服消息条数已用完"


class BadOpenId(WeChatError):
    default_message = "openid 无效"


class RateLimited(WeChatError):
    default_message = "发送过于频繁，请稍后再试"


class PlatformBusy(WeChatError):
    default_message = "微信平台繁忙，请稍后再试"


class PlatformUnavailable(WeChatError):
    default_message = "无法连接微信平台（网络错误或超时）"


_BY_CODE: dict[int, type[WeChatError]] = {
    -1: PlatformBusy,
    40001: TokenInvalid,
    40014: TokenInvalid,
    42001: TokenInvalid,
    40003: BadOpenId,
    45009: QuotaExceeded,
    45015: OutsideWindow,
    43004: OutsideWindow,
    45047: CustomerServiceLimit,
    130101: RateLimited,
}

TOKEN_ERRCODES = frozenset(code for code, cls in _BY_CODE.items() if cls is TokenInvalid)


def error_for(errcode: int, errmsg: str = "") -> WeChatError:
    """The typed error for a WeChat ``errcode`` (a plain :class:`WeChatError` for unknown codes)."""
    cls = _BY_CODE.get(errcode, WeChatError)
    return cls(errcode=errcode, errmsg=errmsg, detail=errmsg or None)
