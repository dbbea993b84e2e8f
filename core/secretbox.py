"""Encryption at rest for the few secrets kept in the database (WeCom robot webhook keys).

The key is the ``CUNWU_SECRET_KEY`` setting: 32 random bytes in URL-safe base64, the same form as
a Fernet key (make one with ``python -c "import secrets, base64;
print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())"``).

Algorithm: AES-256-GCM from ``cryptography``, a fresh 96-bit nonce per value, and the row's identity
(village code and group name) as associated data, so a ciphertext copied onto another row does not
decrypt. Stored form: ``v1.`` + URL-safe base64 of nonce ‖ ciphertext ‖ tag, 88 characters for a
36-character WeCom key. Fernet would do the same job but takes 140 characters for that key, more
than the existing ``VARCHAR(128)`` column holds on PostgreSQL.

This module is the only place that encrypts or decrypts; nothing here logs or prints a value.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.errors import ConfigError, DatabaseError

PREFIX = "v1."
NONCE_BYTES = 12
MISSING_KEY = "未设置 CUNWU_SECRET_KEY（机器人 key 加密保存所需的密钥），请在环境变量或 .env 中设置"


def new_key() -> str:
    """A fresh key in the form ``CUNWU_SECRET_KEY`` expects."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


class SecretBox:
    """Encrypts and decrypts short secrets with one installation key."""

    def __init__(self, key: str) -> None:
        if not key:
            raise ConfigError(MISSING_KEY)
        try:
            raw = base64.urlsafe_b64decode(key.strip().encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
            raise ConfigError("CUNWU_SECRET_KEY 无效：应为 32 字节的 URL-safe base64（44 个字符）") from exc
        if len(raw) != 32:
            raise ConfigError("CUNWU_SECRET_KEY 无效：应为 32 字节的 URL-safe base64（44 个字符）")
        self._aead = AESGCM(raw)

    def encrypt(self, plaintext: str, context: str) -> str:
        """The stored form of ``plaintext``, bound to ``context`` (what the value belongs to)."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, stored: str, context: str) -> str:
        """The plaintext of a value made by :meth:`encrypt` with the same key and context."""
        unreadable = DatabaseError(
            f"{context} 的密钥无法解密：CUNWU_SECRET_KEY 与保存时不同，或它在启用加密前保存；"
            "请用 cunwu village channels 重新设置"
        )
        if not stored.startswith(PREFIX):
            raise unreadable
        try:
            blob = base64.urlsafe_b64decode(stored[len(PREFIX) :].encode("ascii"))
            return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode("utf-8")).decode("utf-8")
        except (InvalidTag, binascii.Error, ValueError, UnicodeError):
            raise unreadable from None
