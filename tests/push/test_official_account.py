"""Template messages per follower (token expiry mid-fan-out refreshes once) and tags kept in step with bindings."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.clock import CHINA_TZ
from core.config import load_settings
from push.runtime import sync_tags
from tests.conftest import Cunwu
from tests.push.conftest import FakeServer, sample_notice
from village_lists.repository import bind_follower, mark_unsubscribed, unbind_follower


def bind(factory: sessionmaker[Session], village: str, openids: list[str]) -> None:
    with factory.begin() as session:
        for openid in openids:
            bind_follower(session, openid, village, dt.datetime.now(CHINA_TZ))


def test_token_expiry_mid_fan_out_refreshes_once(
    township: Cunwu, fake: FakeServer, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUNWU_WECHAT_TEMPLATE_ID", "tmpl-notice")
    monkeypatch.setenv("CUNWU_PUSH_TEMPLATE_RATE", "1000")
    openids = [f"oQH01follower{i:03d}" for i in range(60)]
    bind(session_factory, "QH01", openids)
    fake.call(lambda: setattr(fake.platform.config, "latency_ms", 10))
    township.ok("notice", "import", str(sample_notice("TZ-2026-032")), "--by", "李文书")
    township.ok("notice", "approve", "TZ-2026-032", "--by", "王审核")
    township.ok("notice", "send-now", "TZ-2026-032")

    expired = threading.Event()

    def expire_midway() -> None:  # the access token expires while the fan-out is running
        while not expired.is_set():
            if len([m for m in list(fake.platform.messages) if m["api"] == "template_send"]) >= 20:
                fake.call(fake.platform.expire_tokens)
                expired.set()
            threading.Event().wait(0.005)

    watcher = threading.Thread(target=expire_midway, daemon=True)
    watcher.start()
    township.ok("worker", "--drain", "--concurrency", "8")
    expired.set()
    watcher.join(5)
    sent = [m for m in fake.platform.messages if m["api"] == "template_send"]
    assert sorted(m["body"]["touser"] for m in sent) == openids  # every follower once
    assert fake.platform.token_fetches == 2  # the first token, and exactly one refresh
    body = sent[0]["body"]
    assert body["url"] == "http://cunwu.test/n/TZ-2026-032"
    assert all(len(v["value"]) <= 20 and "\n" not in v["value"] for v in body["data"].values())
    states = {
        d["state"] for d in json.loads(township.ok("notice", "show", "TZ-2026-032", "--json").output)["deliveries"]
    }
    assert states == {"sent"}


def test_tags_follow_bindings_in_batches_of_50(
    township: Cunwu, fake: FakeServer, session_factory: sessionmaker[Session]
) -> None:
    bind(session_factory, "QH02", [f"oQH02f{i:03d}" for i in range(120)])
    bind(session_factory, "QH03", ["oQH03f001"])
    settings = load_settings({"database_url": township.url})
    engine = session_factory.kw["bind"]
    assert asyncio.run(sync_tags(settings, engine)) == (121, 0)
    calls = [m for m in fake.platform.messages if m["api"] == "tags_batchtagging"]
    assert [len(m["body"]["openid_list"]) for m in calls] == [50, 50, 20, 1]
    names = {i: n for i, n in fake.platform.tags.items()}
    members = {names[i]: len(m) for i, m in fake.platform.tag_members.items()}
    assert members == {"QH02村民": 120, "QH03村民": 1}
    assert asyncio.run(sync_tags(settings, engine)) == (0, 0)  # nothing changed, no call
    with session_factory.begin() as session:
        unbind_follower(session, "oQH02f000")
        mark_unsubscribed(session, "oQH02f001")
        bind_follower(session, "oQH02f002", "QH03", dt.datetime.now(CHINA_TZ))
    assert asyncio.run(sync_tags(settings, engine)) == (1, 3)
    members = {names[i]: sorted(m) for i, m in fake.platform.tag_members.items()}
    assert len(members["QH02村民"]) == 117 and members["QH03村民"] == ["oQH02f002", "oQH03f001"]
