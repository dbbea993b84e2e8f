"""WeChat's request signatures: SHA-1 over the sorted parts, compared in constant time.

``signature`` (every request) covers token, timestamp and nonce; safe mode's ``msg_signature``
covers the ``Encrypt`` value too. wechatpy compares with ``!=``; we use :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac

from core.errors import ConfigError
from wechat.errors import BadSignature

MAX_PARAM_CHARS = 256
"""Longest timestamp or nonce accepted (WeChat's are ten digits)."""


def sign(token: str, timestamp: str, nonce: str, encrypt: str | None = None) -> str:
    """WeChat's SHA-1 signature: the parts sorted (as bytes), concatenated, hashed, hex."""
    parts = [token, timestamp, nonce] if encrypt is None else [token, timestamp, nonce, encrypt]
    raw = sorted(p.encode("utf-8") for p in parts)
    return hashlib.sha1(b"".join(raw)).hexdigest()


def _compare(expected: str, given: object) -> bool:
    if not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace"))


def _require_str(value: object, name: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_PARAM_CHARS:
        raise BadSignature(detail=f"missing or malformed {name}")
    return value


def check_signature(token: str, signature: str | None, timestamp: str | None, nonce: str | None) -> None:
    """Check the ``signature`` query parameter (raises :class:`BadSignature`; constant time)."""
    check_msg_signature(token, signature, timestamp, nonce, None)


def check_msg_signature(
    token: str, msg_signature: str | None, timestamp: str | None, nonce: str | None, encrypt: str | None
) -> None:
    """Check a signature over token, timestamp, nonce and (safe mode's ``msg_signature``) the Encrypt value."""
    if not token:
        raise ConfigError("未设置 CUNWU_WECHAT_TOKEN，无法校验微信签名")
    ts = _require_str(timestamp, "timestamp")
    nc = _require_str(nonce, "nonce")
    if not _compare(sign(token, ts, nc, encrypt), msg_signature):
        raise BadSignature()
