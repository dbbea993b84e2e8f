"""Small pieces of push: the privacy check, robot text parts, clientmsgid, audio peaks, urgent-first claims,
the retry policy, and the loudspeaker vendor upload."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from push import queue
from push.channels.official import clientmsgid
from push.delivery import RetryStrategy
from push.models import Notice
from push.speech.audio import PEAK_DBFS, limit_peak, resample
from push.speech.privacy import privacy_problems
from push.text import robot_parts, template_data
from tests.conftest import Cunwu
from tests.push.conftest import FakeServer, sample_notice

CEILING = 32767 * 10 ** (PEAK_DBFS / 20)


def test_privacy_problems() -> None:
    assert privacy_problems("咨询电话0883-6712048，或拨打12345、12119。") == []
    found = privacy_problems("身份证530102199001011234，卡号6222 0212 3456 7890 123，手机13987654321")
    assert len(found) == 3 and not any("1234" in p[-8:] for p in found)  # numbers are not echoed whole
    table = "| 姓名 | 金额 |\n|---|---|\n| 张建华 | 100 |\n| 李*芬 | 50 |\n| 合计 | 150 |"
    assert privacy_problems(table) == ["公示名单“姓名”列的“张**”未隐去部分姓名（应写作 张*华）"]


@given(st.text(alphabet="清河村补贴发放公示，。0123456789\n|", min_size=0, max_size=3000))
def test_robot_parts_never_exceed_the_limit(body: str) -> None:
    notice = Notice(id="TZ-2026-001", kind="政策宣传", title="标题", body=body)
    parts = robot_parts(notice, "http://x/n/TZ-2026-001")
    assert all(len(p.encode("utf-8")) <= 2048 for p in parts)
    assert parts[-1].endswith("详情：http://x/n/TZ-2026-001")


def test_template_fields_and_clientmsgid() -> None:
    notice = Notice(id="TZ-2026-028", kind="补贴发放", title="清河镇2026年耕地地力保护补贴面积及金额公示", body="")
    fields = template_data(notice, dt.datetime(2026, 11, 25, 1, tzinfo=dt.UTC))
    assert fields == {"thing1": "清河镇2026年耕地地力保护补贴面积及…", "time2": "2026年11月25日"}
    assert all(len(v) <= 20 for v in fields.values())
    cid = clientmsgid("TZ-2026-028", "QH01", 3, "2026-11-25T01:00Z")
    assert cid == "TZ-2026-028.QH01.g3.202611250100" and len(cid.encode()) <= 64
    assert cid == clientmsgid("TZ-2026-028", "QH01", 3, "2026-11-25T01:00Z")  # deterministic


def test_audio_peaks_at_most_minus_one_dbfs() -> None:
    rng = np.random.default_rng(7)
    loud = np.clip(rng.normal(0, 20000, 22050), -32768, 32767).astype(np.int16)  # many samples at full scale
    assert int(np.sum(np.abs(loud.astype(np.int32)) >= 32767)) > 100
    for out in (limit_peak(loud), resample(loud, 22050, 16000), resample(loud, 22050, 8000)):
        assert int(np.max(np.abs(out.astype(np.int32)))) <= CEILING
        assert int(np.sum(np.abs(out.astype(np.int32)) >= 32767)) == 0
    quiet = (np.sin(np.linspace(0, 100, 1000)) * 1000).astype(np.int16)
    assert np.array_equal(limit_peak(quiet), quiet)  # never scaled up


def test_retry_strategy_backs_off_with_jitter() -> None:
    strategy = RetryStrategy(base=5, cap=60)
    delays = [strategy.delay(n, random.Random(n)) for n in range(1, 8)]
    assert 2.5 <= delays[0] <= 5 and 20 <= delays[3] <= 40 and all(d <= 60 for d in delays)


def test_urgent_notices_jump_the_queue(township: Cunwu, session_factory) -> None:  # type: ignore[no-untyped-def]
    for notice_id in ("TZ-2026-028", "TZ-2026-033"):  # a subsidy list, then the fire warning (urgent)
        township.ok("notice", "import", str(sample_notice(notice_id)), "--by", "李文书")
        township.ok("notice", "approve", notice_id, "--by", "王审核")
    township.ok("notice", "send-now", "TZ-2026-028")
    township.ok("notice", "send-now", "TZ-2026-033")
    claimed = queue.claim(session_factory.kw["bind"], "w1", 27, dt.datetime.now(dt.UTC), 60)
    notices = [c.notice_id for c in claimed]
    assert notices[:27] == ["TZ-2026-033"] * 27  # all 27 urgent rows before any of the earlier notice's


def test_loudspeaker_vendor_upload(
    township: Cunwu, fake: FakeServer, monkeypatch: pytest.MonkeyPatch, push_env: Path
) -> None:
    monkeypatch.setenv("CUNWU_LOUDSPEAKER_UPLOAD_URL", f"{fake.url}/_vendor/loudspeaker/upload")
    township.ok("notice", "import", str(sample_notice("TZ-2026-034")), "--by", "李文书")
    township.ok("notice", "approve", "TZ-2026-034", "--by", "王审核")
    township.ok("notice", "send-now", "TZ-2026-034")
    township.ok("worker", "--drain")
    uploads = [m["body"] for m in fake.platform.messages if m["api"] == "loudspeaker_upload"]
    assert sorted(u["village"] for u in uploads) == ["QH01", "QH02", "QH03", "QH04", "QH05"]
    assert all(any(f["name"].endswith(".txt") and f["size"] > 100 for f in u["files"]) for u in uploads)
    assert all(
        f["name"].endswith((".txt", ".wav", ".mp3")) for u in uploads for f in u["files"]
    )  # audio with espeak-ng
    shown = json.loads(township.ok("notice", "show", "TZ-2026-034", "--json").output)
    assert all("已上传到广播厂商接口" in d["note"] for d in shown["deliveries"])
