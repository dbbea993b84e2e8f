"""Offline Mandarin audio: espeak-ng (voice ``cmn-latn-pinyin``, fed tone-numbered pinyin) → PCM → WAV / MP3.

espeak-ng writes 22,050 Hz mono; we resample with a polyphase filter (scipy ``resample_poly``) to the rate a
paging device wants (16 kHz or 8 kHz) and write PCM16 mono WAV with the stdlib ``wave`` module. MP3 is made
by ``lame`` from the 16 kHz signal (32 kbit/s mono: plenty for speech, and quick to encode).
Sentences are separated by a pause (SSML ``<break>``).

Everything here blocks (it runs subprocesses): from async code use ``synthesize_async`` / ``write_audio_async``,
which run in a worker thread.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from math import gcd
from pathlib import Path
from typing import BinaryIO

import numpy as np
from scipy.signal import resample_poly

from core.errors import AppError

ESPEAK = "espeak-ng"
LAME = "lame"
ESPEAK_RATE = 22050
RATES = (8000, 16000)
MP3_RATE = 16000
INSTALL_HINT = "sudo apt-get install -y espeak-ng lame"
_TIMEOUT = 300


class AudioUnavailable(AppError):
    """espeak-ng or lame is not installed, or failed; the script can still be used without audio."""


@dataclass(frozen=True)
class Voice:
    """How the text is spoken. Part of the cache key of generated files."""

    name: str = "cmn-latn-pinyin"
    speed: int = 165  # words per minute as espeak-ng counts them; one pinyin syllable is one word
    pitch: int = 50
    amplitude: int = 120
    sentence_pause_ms: int = 450

    def settings(self) -> dict[str, object]:
        return asdict(self)


def missing_tools(*, mp3: bool = True) -> list[str]:
    """The audio programs not found on PATH."""
    tools = [ESPEAK, LAME] if mp3 else [ESPEAK]
    return [tool for tool in tools if shutil.which(tool) is None]


def unavailable_reason(*, mp3: bool = True) -> str | None:
    """Why audio cannot be made here (in Chinese), or None when it can."""
    missing = missing_tools(mp3=mp3)
    if not missing:
        return None
    return f"未安装 {'、'.join(missing)}（{INSTALL_HINT}）"


def synthesize(pinyin_sentences: Sequence[str], voice: Voice = Voice()) -> np.ndarray:
    """Speak tone-numbered pinyin sentences; returns int16 mono samples at ``ESPEAK_RATE``."""
    if shutil.which(ESPEAK) is None:
        raise AudioUnavailable(f"未生成音频：未安装 espeak-ng（{INSTALL_HINT}）")
    pause = f'<break time="{voice.sentence_pause_ms}ms"/>'
    ssml = "<speak>" + f" {pause} ".join(_ssml_text(s) for s in pinyin_sentences if s.strip()) + "</speak>"
    with tempfile.TemporaryDirectory(prefix="cunwu-tts-") as tmp:
        wav_path = Path(tmp) / "speech.wav"
        text_path = Path(tmp) / "speech.txt"
        text_path.write_text(ssml, encoding="utf-8")
        command = [
            ESPEAK,
            "-v",
            voice.name,
            "-s",
            str(voice.speed),
            "-p",
            str(voice.pitch),
            "-a",
            str(voice.amplitude),
            "-m",
            "-b",
            "1",
            "-f",
            str(text_path),
            "-w",
            str(wav_path),
        ]
        _run(command, "espeak-ng")
        samples, rate = read_wav(wav_path)
    if rate != ESPEAK_RATE:
        samples = resample(samples, rate, ESPEAK_RATE)
    return samples


def _ssml_text(text: str) -> str:
    return text.replace("&", " ").replace("<", " ").replace(">", " ")


PEAK_DBFS = -1.0
"""Loudspeakers distort near full scale: every file we write peaks at or below this level."""


def limit_peak(samples: np.ndarray, peak_dbfs: float = PEAK_DBFS) -> np.ndarray:
    """Scale down (never up) so the peak is at most ``peak_dbfs``; int16 out, no sample clipped."""
    signal = samples.astype(np.float64)
    ceiling = float(int(32767 * 10 ** (peak_dbfs / 20)))  # whole samples, so rounding stays below
    peak = float(np.max(np.abs(signal))) if signal.size else 0.0
    if peak > ceiling:
        signal = signal * (ceiling / peak)
    return np.rint(np.clip(signal, -ceiling, ceiling)).astype(np.int16)


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Polyphase resampling with an anti-aliasing filter, peak-limited to ``PEAK_DBFS``; int16 in, int16 out.

    The filter overshoots on loud speech, so the limit is applied to the resampled signal, before rounding.
    """
    if from_rate == to_rate:
        return limit_peak(samples)
    divisor = gcd(from_rate, to_rate)
    return limit_peak(resample_poly(samples.astype(np.float64), to_rate // divisor, from_rate // divisor))


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """A PCM16 WAV as mono int16 samples (channels averaged) and its rate."""
    with wave.open(str(path), "rb") as reader:
        if reader.getsampwidth() != 2:
            raise AudioUnavailable(f"只支持 16 位 PCM WAV：{path}")
        channels = reader.getnchannels()
        rate = reader.getframerate()
        data = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return data.astype(np.int16), rate


def write_wav(path: str | Path | BinaryIO, samples: np.ndarray, rate: int) -> None:
    """Write PCM16 mono WAV to a path or a binary file object."""
    target = str(path) if isinstance(path, str | Path) else path
    with wave.open(target, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(samples.astype("<i2").tobytes())


def write_mp3(path: str | Path, samples: np.ndarray, rate: int, *, bitrate_kbps: int = 32) -> None:
    """Encode mono int16 samples to MP3 with lame."""
    if shutil.which(LAME) is None:
        raise AudioUnavailable(f"未生成 MP3：未安装 lame（{INSTALL_HINT}）")
    buffer = io.BytesIO()
    write_wav(buffer, samples, rate)
    command = [LAME, "--quiet", "-m", "m", "-q", "7", "-b", str(bitrate_kbps), "-", str(path)]
    _run(command, "lame", stdin=buffer.getvalue())


def write_audio(
    pinyin_sentences: Sequence[str],
    *,
    wav_path: str | Path | None,
    mp3_path: str | Path | None,
    rate: int = 16000,
    voice: Voice = Voice(),
) -> float:
    """Synthesise once, write the WAV at ``rate`` and/or the MP3; returns the duration in seconds."""
    if rate not in RATES:
        raise ValueError(f"rate must be one of {RATES}")
    samples = synthesize(pinyin_sentences, voice)
    wide = resample(samples, ESPEAK_RATE, MP3_RATE)
    if wav_path is not None:
        write_wav(wav_path, wide if rate == MP3_RATE else resample(samples, ESPEAK_RATE, rate), rate)
    if mp3_path is not None:
        write_mp3(mp3_path, wide, MP3_RATE)
    return len(samples) / ESPEAK_RATE


async def synthesize_async(pinyin_sentences: Sequence[str], voice: Voice = Voice()) -> np.ndarray:
    """``synthesize`` in a worker thread, so the event loop keeps running."""
    return await asyncio.to_thread(synthesize, pinyin_sentences, voice)


async def write_audio_async(
    pinyin_sentences: Sequence[str],
    *,
    wav_path: str | Path | None,
    mp3_path: str | Path | None,
    rate: int = 16000,
    voice: Voice = Voice(),
) -> float:
    """``write_audio`` in a worker thread."""
    return await asyncio.to_thread(
        write_audio, pinyin_sentences, wav_path=wav_path, mp3_path=mp3_path, rate=rate, voice=voice
    )


def wav_duration(path: str | Path) -> float:
    with wave.open(str(path), "rb") as reader:
        return reader.getnframes() / reader.getframerate()


def _run(command: list[str], name: str, *, stdin: bytes | None = None) -> None:
    try:
        result = subprocess.run(command, input=stdin, capture_output=True, timeout=_TIMEOUT, check=False)
    except FileNotFoundError as exc:
        raise AudioUnavailable(f"未生成音频：未安装 {name}（{INSTALL_HINT}）") from exc
    except subprocess.TimeoutExpired as exc:
        raise AudioUnavailable(f"{name} 超过 {_TIMEOUT} 秒未完成") from exc
    if result.returncode != 0:
        detail = result.stderr.decode("utf-8", "replace").strip()[:300]
        raise AudioUnavailable(f"{name} 运行失败（退出码 {result.returncode}）：{detail}")
