"""Settings precedence and secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import load_settings
from core.db import async_url, sync_url
from core.errors import ConfigError


def test_precedence_flags_over_env_over_dotenv_over_defaults(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("CUNWU_PORT=9001\nCUNWU_HOST=0.0.0.0\nCUNWU_WECHAT_TOKEN='tok'\n", encoding="utf-8")
    s = load_settings(environ={}, env_file=env_file)
    assert (s.port, s.host, s.wechat_token) == (9001, "0.0.0.0", "tok")
    s = load_settings(environ={"CUNWU_PORT": "9002"}, env_file=env_file)
    assert s.port == 9002 and s.host == "0.0.0.0"
    s = load_settings({"port": 9003}, environ={"CUNWU_PORT": "9002"}, env_file=env_file)
    assert s.port == 9003
    assert load_settings(environ={}, env_file=None).database_url == "sqlite:///var/cunwu.db"


def test_secrets_are_masked() -> None:
    s = load_settings(environ={"CUNWU_WECHAT_SECRET": "s3cr3t", "CUNWU_WECHAT_AES_KEY": "k" * 43}, env_file=None)
    shown = repr(s.redacted())
    assert "s3cr3t" not in shown and "k" * 43 not in shown and s.safe_mode


def test_bad_values_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="设置 port 的值无效"):
        load_settings(environ={"CUNWU_PORT": "eighty"}, env_file=None)
    bad = tmp_path / ".env"
    bad.write_text("JUSTAWORD\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\.env:1"):
        load_settings(environ={}, env_file=bad)


@pytest.mark.parametrize(
    ("url", "sync", "async_"),
    [
        ("sqlite:///var/x.db", "sqlite+pysqlite", "sqlite+aiosqlite"),
        ("postgresql://u@h/db", "postgresql+psycopg", "postgresql+psycopg"),
    ],
)
def test_driver_is_picked_from_plain_url(url: str, sync: str, async_: str) -> None:
    assert sync_url(url).drivername == sync and async_url(url).drivername == async_


def test_unsupported_database_is_rejected() -> None:
    with pytest.raises(ConfigError, match="mysql"):
        sync_url("mysql://root@localhost/x")


def test_secret_key_is_masked_and_production_is_the_real_platform() -> None:
    s = load_settings(environ={"CUNWU_SECRET_KEY": "a-secret-key"}, env_file=None)
    assert s.secret_key == "a-secret-key" and "a-secret-key" not in repr(s.redacted())
    assert s.production  # the default API base is api.weixin.qq.com
    dev = load_settings(environ={"CUNWU_WECHAT_API_BASE": "http://127.0.0.1:8081"}, env_file=None)
    assert not dev.production
