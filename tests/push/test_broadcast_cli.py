"""``cunwu broadcast``: render a notice file, say a line; no database involved."""

from __future__ import annotations

import re
import shutil
import wave
from pathlib import Path

import pytest
from click.testing import CliRunner

from admin_cli.main import cli
from push.speech import audio

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "qinghe"
needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("lame") is None,
    reason="espeak-ng/lame not installed: sudo apt-get install -y espeak-ng lame",
)


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_render_without_audio_prints_the_script_and_writes_it(tmp_path: Path) -> None:
    result = run(
        "broadcast", "render", str(SAMPLE / "notices" / "TZ-2026-029.yaml"), "--out", str(tmp_path), "--no-audio"
    )
    assert result.exit_code == 0, result.output
    assert "芒洪村，四百七十六户" in result.output
    assert "未生成音频" in result.output
    assert "傣语译文：未提供" in result.output  # villages.csv found next to the notices folder
    txt = tmp_path / "20261126-0900-TZ-2026-029.txt"
    assert txt.is_file()
    assert txt.name in result.output
    assert not list(tmp_path.glob("*.wav"))
    assert not re.search(r"[0-9]", txt.read_text(encoding="utf-8").split("【")[0])


def test_render_when_espeak_is_missing_writes_the_script_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    result = run("broadcast", "render", str(SAMPLE / "notices" / "TZ-2026-034.yaml"), "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "未生成音频：未安装 espeak-ng、lame（sudo apt-get install -y espeak-ng lame）" in result.output
    assert len(list(tmp_path.glob("*-TZ-2026-034.txt"))) == 1


def test_villages_option_and_play_time(tmp_path: Path) -> None:
    villages = tmp_path / "villages.csv"
    villages.write_text("村编码,主要语言\nQH01,汉语\nQH02,汉语\nQH03,汉语\nQH04,汉语\nQH05,汉语\n", encoding="utf-8")
    result = run(
        "broadcast",
        "render",
        str(SAMPLE / "notices" / "TZ-2026-034.yaml"),
        "--out",
        str(tmp_path / "out"),
        "--no-audio",
        "--villages",
        str(villages),
        "--at",
        "2026-12-05T19:00+0800",
    )
    assert result.exit_code == 0, result.output
    assert "译文" not in result.output
    assert (tmp_path / "out" / "20261205-1900-TZ-2026-034.txt").is_file()


def test_render_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["broadcast", "render", "TZ-2026-999"])
    assert result.exit_code == 1
    assert "找不到通知文件" in result.output


def test_render_invalid_notice_lists_problems(tmp_path: Path) -> None:
    bad = tmp_path / "TZ-2026-901.yaml"
    bad.write_text("id: TZ-2026-901\nkind: 闲聊\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["broadcast", "render", str(bad), "--no-audio"])
    assert result.exit_code == 1
    assert "kind" in result.output and "缺少必填字段" in result.output


def test_help_lists_both_commands() -> None:
    result = run("broadcast", "--help")
    assert "render" in result.output and "say" in result.output


@needs_espeak
@pytest.mark.audio
def test_render_with_audio(tmp_path: Path) -> None:
    result = run(
        "broadcast", "render", str(SAMPLE / "notices" / "TZ-2026-035.yaml"), "--out", str(tmp_path), "--rate", "8000"
    )
    assert result.exit_code == 0, result.output
    with wave.open(str(tmp_path / "20261124-1000-TZ-2026-035.wav"), "rb") as reader:
        assert reader.getframerate() == 8000
    assert "playlist.m3u" in result.output
    again = run(
        "broadcast", "render", str(SAMPLE / "notices" / "TZ-2026-035.yaml"), "--out", str(tmp_path), "--rate", "8000"
    )
    assert "已复用未变化的文件" in again.output


@needs_espeak
@pytest.mark.audio
@pytest.mark.parametrize("suffix", [".wav", ".mp3"])
def test_say(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"say{suffix}"
    result = run("broadcast", "say", "请拨打0883-6712048。", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "零八八三，六七幺二零四八" in result.output
    assert out.stat().st_size > 1000


def test_say_without_espeak_fails_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    result = CliRunner().invoke(cli, ["broadcast", "say", "你好", "-o", str(tmp_path / "a.wav")])
    assert result.exit_code == 1
    assert "未安装 espeak-ng" in result.output
