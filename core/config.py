"""Settings: one explicit object, made once by :func:`load_settings`.

Precedence: explicit overrides (CLI flags) > ``CUNWU_*`` environment variables >
``.env`` file > defaults. Nothing here runs at import time.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from core.errors import ConfigError

SECRET_FIELDS = frozenset({"wechat_secret", "wechat_token", "wechat_aes_key", "secret_key", "api_token"})
REAL_WECHAT_API = "https://api.weixin.qq.com"


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///var/cunwu.db"
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = "http://127.0.0.1:8080"
    timezone: str = "Asia/Shanghai"
    # WeChat official account
    wechat_appid: str = ""
    wechat_secret: str = ""
    wechat_token: str = ""
    wechat_aes_key: str = ""
    wechat_api_base: str = REAL_WECHAT_API
    wecom_api_base: str = "https://qyapi.weixin.qq.com"
    # bot behaviour
    reply_budget_seconds: float = 4.0
    matcher_processes: int = 2
    service_phone: str = ""
    # the public JSON API
    api_rate_per_minute: int = 30
    api_token: str = ""
    # loudspeaker output folder
    broadcast_dir: str = "var/broadcast"
    # push (notices, deliveries)
    wechat_account_type: str = "service"  # service (服务号) or subscription (公众号, formerly 订阅号)
    wechat_template_id: str = ""  # template messages per follower instead of mass send by tag
    wechat_mass_protection: bool = False  # 群发保护: an admin confirms each mass send within 30 minutes
    loudspeaker_upload_url: str = ""  # a loudspeaker vendor's HTTP upload endpoint (optional)
    push_misfire_grace_hours: float = 6.0
    push_lease_seconds: float = 60.0
    push_max_attempts: int = 8
    push_robot_rate_per_minute: int = 20
    push_mass_rate_per_minute: int = 60
    push_template_rate: float = 20.0  # template messages a second
    log_level: str = "INFO"
    # key that encrypts secrets stored in the database (robot webhook keys); see core/secretbox.py
    secret_key: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def safe_mode(self) -> bool:
        return bool(self.wechat_aes_key)

    @property
    def production(self) -> bool:
        """True when the bot talks to the real WeChat platform (not the fake one of development and tests)."""
        return self.wechat_api_base.rstrip("/") == REAL_WECHAT_API

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict with secrets masked, for logs and `cunwu config`."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if f.name in SECRET_FIELDS and value:
                value = "***"
            out[f.name] = value
        return out

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :]
        if "=" not in line:
            raise ConfigError(f"{path}:{lineno}: 不是 KEY=VALUE 形式", detail=raw)
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _coerce(name: str, kind: Any, raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        if kind in (int, "int"):
            return int(raw)
        if kind in (float, "float"):
            return float(raw)
        if kind in (bool, "bool"):
            return raw.strip().lower() in {"1", "true", "yes", "on"}
    except ValueError as exc:
        raise ConfigError(f"设置 {name} 的值无效：{raw!r}") from exc
    return raw


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    env_file: str | Path | None = ".env",
) -> Settings:
    """Build the settings from flags, ``CUNWU_*`` variables, ``.env`` and defaults."""
    environ = os.environ if environ is None else environ
    file_values = _read_env_file(Path(env_file)) if env_file else {}
    known = {f.name: f for f in fields(Settings) if f.name != "extra"}
    values: dict[str, Any] = {}
    extra: dict[str, str] = {}
    for source in (file_values, environ):
        for key, value in source.items():
            if not key.startswith("CUNWU_"):
                continue
            name = key[len("CUNWU_") :].lower()
            if name in known:
                values[name] = value
            else:
                extra[name] = value
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key not in known:
            raise ConfigError(f"未知设置：{key}")
        values[key] = value
    coerced = {k: _coerce(k, known[k].type, v) for k, v in values.items()}
    return Settings(**coerced, extra=extra)
