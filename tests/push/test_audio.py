"""Audio from the sample notices: valid WAV at the requested rate, a plausible length, a non-empty MP3."""

from __future__ import annotations

import asyncio
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

from push.notice_file import load_notice
from push.speech.audio import read_wav, resample, write_wav
from push.speech.minority import languages_for, read_village_languages
from push.speech.pinyin import sentences_to_pinyin, to_pinyin
from push.speech.render import render_notice, render_notice_async

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "qinghe"
NOTICES = sorted((SAMPLE / "notices").glob("TZ-*.yaml"))
CHARS_PER_SECOND = 3.5

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("lame") is None,
    reason="espeak-ng/lame not installed: sudo apt-get install -y espeak-ng lame",
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("耕地地力保护补贴", "geng1 di4 di4 li4 bao3 hu4 bu3 tie1"),
        ("到银行办理", "dao4 yin2 hang2 ban4 li3"),
        ("重新发包", "chong2 xin1 fa1 bao1"),
        ("分散供养", "fen1 san4 gong1 yang3"),
        ("村民朋友们请注意！", "cun1 min2 peng2 you3 men5 qing3 zhu4 yi4."),
        ("公示期为七天", "gong1 shi4 qi1 wei2 qi1 tian1"),
        ("播送一遍", "bo1 song4 yi2 bian4"),
        ("十一月", "shi2 yi1 yue4"),
        ("幺二幺幺九", "yao1 er4 yao1 yao1 jiu3"),
        ("一卡通", "yi4 ka3 tong1"),
    ],
)
def test_pinyin_with_polyphone_fixes(text: str, expected: str) -> None:
    assert to_pinyin(text) == expected


def test_pinyin_has_one_syllable_per_character() -> None:
    from push.speech.script import build_script

    for path in NOTICES:
        script = build_script(load_notice(path))
        for sentence, pinyin in zip(script.sentences, sentences_to_pinyin(script.sentences), strict=True):
            syllables = [w for w in pinyin.replace(",", " ").replace(".", " ").split()]
            assert len(syllables) == sum(1 for c in sentence if "\u4e00" <= c <= "\u9fff"), sentence
            assert all(w[-1] in "12345" for w in syllables), pinyin


def test_resample_keeps_a_tone_and_removes_what_8k_cannot_hold(tmp_path: Path) -> None:
    rate = 22050
    t = np.arange(rate) / rate
    low = 8000 * np.sin(2 * np.pi * 440 * t)
    high = 8000 * np.sin(2 * np.pi * 6000 * t)  # above the 4 kHz Nyquist limit of 8 kHz audio
    out = resample((low + high).astype(np.int16), rate, 8000)
    assert len(out) == 8000
    spectrum = np.abs(np.fft.rfft(out.astype(np.float64)))
    freqs = np.fft.rfftfreq(len(out), 1 / 8000)
    assert abs(freqs[int(np.argmax(spectrum))] - 440) < 2
    alias = spectrum[np.abs(freqs - 2000) < 5].max()  # 6 kHz would fold to 2 kHz without the filter
    assert alias < spectrum.max() / 100
    write_wav(tmp_path / "t.wav", out, 8000)
    back, back_rate = read_wav(tmp_path / "t.wav")
    assert back_rate == 8000 and np.array_equal(back, out)


@needs_espeak
@pytest.mark.audio
@pytest.mark.parametrize(
    ("path", "rate"),
    [(p, 8000 if i % 2 else 16000) for i, p in enumerate(NOTICES)],  # both rates, each notice once (synthesis is slow)
    ids=lambda v: v.stem if isinstance(v, Path) else str(v),
)
def test_sample_notice_audio(tmp_path: Path, path: Path, rate: int) -> None:
    notice = load_notice(path)
    result = render_notice(notice, tmp_path, rate=rate)
    assert result.audio_skipped is None
    wav = tmp_path / f"{result.stem}.wav"
    mp3 = tmp_path / f"{result.stem}.mp3"
    with wave.open(str(wav), "rb") as reader:
        assert reader.getframerate() == rate
        assert reader.getnchannels() == 1
        assert reader.getsampwidth() == 2
        seconds = reader.getnframes() / rate
    expected = result.script.spoken_characters / CHARS_PER_SECOND
    assert 0.7 * expected <= seconds <= 1.3 * expected, (seconds, expected)
    assert mp3.stat().st_size > 10_000
    head = mp3.read_bytes()[:3]
    assert head == b"ID3" or (head[0] == 0xFF and head[1] & 0xE0 == 0xE0)  # ID3 tag or MPEG frame sync


@needs_espeak
@pytest.mark.audio
def test_unchanged_notice_reuses_files_and_a_changed_one_does_not(tmp_path: Path) -> None:
    source = tmp_path / "notices"
    source.mkdir()
    notice_path = source / "TZ-2026-035.yaml"
    shutil.copy(SAMPLE / "notices" / "TZ-2026-035.yaml", notice_path)
    out = tmp_path / "out"
    first = render_notice(load_notice(notice_path), out, rate=8000)
    wav = out / f"{first.stem}.wav"
    stamp = wav.stat().st_mtime_ns
    again = render_notice(load_notice(notice_path), out, rate=8000)
    assert again.reused and wav.stat().st_mtime_ns == stamp
    notice_path.write_text(
        notice_path.read_text(encoding="utf-8").replace("准时参会", "务必准时参会"), encoding="utf-8"
    )
    changed = render_notice(load_notice(notice_path), out, rate=8000)
    assert not changed.reused
    assert "务必准时参会" in (out / f"{changed.stem}.txt").read_text(encoding="utf-8")


@needs_espeak
@pytest.mark.audio
def test_translation_recording_follows_the_mandarin_one(tmp_path: Path) -> None:
    source = tmp_path / "notices"
    source.mkdir()
    shutil.copy(SAMPLE / "notices" / "TZ-2026-029.yaml", source / "TZ-2026-029.yaml")
    (source / "TZ-2026-029.傣语.txt").write_text("（傣语译文）", encoding="utf-8")
    write_wav(source / "TZ-2026-029.傣语.wav", np.zeros(44100, dtype=np.int16), 44100)
    languages = languages_for(("QH03",), read_village_languages(SAMPLE / "villages.csv"))
    result = render_notice(load_notice(source / "TZ-2026-029.yaml"), tmp_path / "out", languages=languages, rate=8000)
    playlist = (tmp_path / "out" / "playlist.m3u").read_text(encoding="utf-8").splitlines()
    files = [line for line in playlist if line and not line.startswith("#")]
    assert files == [f"{result.stem}.mp3", f"{result.stem}.傣语.wav"]
    assert "#PLAYAT:2026-11-26T09:00:00+08:00" in playlist
    _, rate = read_wav(tmp_path / "out" / f"{result.stem}.傣语.wav")
    assert rate == 8000
    assert "（傣语译文）" in (tmp_path / "out" / f"{result.stem}.txt").read_text(encoding="utf-8")


@needs_espeak
@pytest.mark.audio
def test_async_render_runs_off_the_event_loop(tmp_path: Path) -> None:
    async def main() -> tuple[int, bool]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        result = await render_notice_async(load_notice(NOTICES[0]), tmp_path, rate=16000)
        task.cancel()
        return ticks, result.audio_skipped is None

    ticks, made = asyncio.run(main())
    assert made
    assert ticks > 10  # the loop kept turning while audio was made


@needs_espeak
@pytest.mark.audio
def test_sample_wav_peaks_below_minus_one_dbfs(tmp_path: Path) -> None:
    """TZ-2026-029's WAV had 274 samples at full scale: loudspeakers distort there."""
    result = render_notice(load_notice(SAMPLE / "notices" / "TZ-2026-029.yaml"), tmp_path, rate=16000)
    samples, _ = read_wav(tmp_path / f"{result.stem}.wav")
    peak = int(np.max(np.abs(samples.astype(np.int32))))
    assert peak <= 32767 * 10 ** (-1 / 20)
    assert int(np.sum(np.abs(samples.astype(np.int32)) >= 32767)) == 0
