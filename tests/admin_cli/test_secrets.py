"""Secrets at rest and in logs: robot keys encrypted, SQL parameters never logged, a clear missing-key error."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from core.db import make_engine
from tests.conftest import TEST_SECRET_KEY, Cunwu
from tests.helpers import dump_database
from village_lists.repository import group_robots, robot_webhook_key

ROBOT_KEY = "693a91f6-7a0e-4bc4-97a0-0ec2sifa5aaa"


def test_robot_key_is_encrypted_and_never_logged(
    cunwu: Cunwu, migrated_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    cunwu.ok("load-sample")
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")  # SQL statements with their parameters
    cunwu.ok("--verbose", "village", "channels", "QH03", "--robot", f"芒洪村傣语通知群={ROBOT_KEY}")
    assert "group_robots" in caplog.text  # SQL is logged at DEBUG …
    assert ROBOT_KEY not in caplog.text  # … but not its parameters
    dump = dump_database(migrated_url)
    assert ROBOT_KEY not in repr(dump)
    engine = make_engine(migrated_url)
    try:
        from sqlalchemy.orm import Session

        with Session(engine) as session:
            (robot,) = group_robots(session, "QH03")
            assert robot_webhook_key(robot, TEST_SECRET_KEY) == ROBOT_KEY
            assert len(robot.webhook_key) <= 128  # fits the column on PostgreSQL
            robot.group_name = "芒洪村村民群"  # a ciphertext moved to another row does not decrypt
            with pytest.raises(Exception, match="无法解密"):
                robot_webhook_key(robot, TEST_SECRET_KEY)
    finally:
        engine.dispose()


def test_missing_secret_key_is_one_clear_line(cunwu: Cunwu, monkeypatch: pytest.MonkeyPatch) -> None:
    cunwu.ok("load-sample")
    monkeypatch.delenv("CUNWU_SECRET_KEY")
    result = cunwu("village", "channels", "QH03", "--robot", f"芒洪村傣语通知群={ROBOT_KEY}")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("错误：未设置 CUNWU_SECRET_KEY"), lines
    # reading the channels needs no key
    assert "机器人" in cunwu.ok("village", "channels", "QH03").output


def test_sql_parameters_are_hidden_in_logs_and_errors(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    token = "ACCESS_TOKEN_84f1c0ffee"
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE wechat_access_tokens (appid TEXT PRIMARY KEY, token TEXT)"))
            conn.execute(text("INSERT INTO wechat_access_tokens VALUES ('wx1', :t)"), {"t": token})
            conn.execute(text("UPDATE wechat_access_tokens SET token=:t"), {"t": token})
        with pytest.raises(IntegrityError) as info, engine.begin() as conn:
            conn.execute(text("INSERT INTO wechat_access_tokens VALUES ('wx1', :t)"), {"t": token})
    finally:
        engine.dispose()
    assert "UPDATE wechat_access_tokens SET token" in caplog.text
    assert token not in caplog.text
    assert token not in str(info.value)


def test_serve_refuses_production_without_a_secret_key(cunwu: Cunwu, monkeypatch: pytest.MonkeyPatch) -> None:
    """Against the real WeChat API (the default base) and no CUNWU_SECRET_KEY, serve does not start."""
    monkeypatch.delenv("CUNWU_SECRET_KEY")
    monkeypatch.delenv("CUNWU_WECHAT_API_BASE", raising=False)
    result = cunwu("serve", "--port", "0")
    assert result.exit_code == 2
    assert "CUNWU_SECRET_KEY" in result.output and "拒绝启动" in result.output
