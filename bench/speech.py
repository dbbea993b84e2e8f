"""Speech benchmark: script building time and characters per second synthesised, over the sample notices.

Run: .venv/bin/python bench/speech.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from push.notice_file import load_notice  # noqa: E402
from push.speech import audio  # noqa: E402
from push.speech.pinyin import sentences_to_pinyin  # noqa: E402
from push.speech.script import build_script  # noqa: E402

NOTICES = sorted((REPO / "examples" / "qinghe" / "notices").glob("TZ-*.yaml"))


def main() -> None:
    notices = [load_notice(path) for path in NOTICES]
    start = time.perf_counter()
    rounds = 20
    for _ in range(rounds):
        scripts = [build_script(n) for n in notices]
    build_ms = (time.perf_counter() - start) * 1000 / (rounds * len(notices))
    start = time.perf_counter()
    pinyin = [sentences_to_pinyin(s.sentences) for s in scripts]
    pinyin_ms = (time.perf_counter() - start) * 1000 / len(notices)
    characters = sum(s.spoken_characters for s in scripts)
    print(f"notices: {len(notices)}, spoken characters: {characters}")
    print(f"script building: {build_ms:.2f} ms per notice; pinyin: {pinyin_ms:.2f} ms per notice")
    reason = audio.unavailable_reason()
    if reason:
        print(f"audio skipped: {reason}")
        return
    synth = resample = mp3 = seconds = 0.0
    for words in pinyin:
        t0 = time.perf_counter()
        samples = audio.synthesize(words)
        t1 = time.perf_counter()
        narrow = audio.resample(samples, audio.ESPEAK_RATE, 8000)
        wide = audio.resample(samples, audio.ESPEAK_RATE, 16000)
        t2 = time.perf_counter()
        audio.write_mp3("/dev/null", wide, 16000)
        t3 = time.perf_counter()
        synth, resample, mp3 = synth + t1 - t0, resample + t2 - t1, mp3 + t3 - t2
        seconds += len(samples) / audio.ESPEAK_RATE
        assert len(narrow) > 0
    total = synth + resample + mp3
    print(f"espeak-ng synthesis: {characters / synth:,.0f} characters/s ({synth:.2f} s)")
    print(f"resampling to 8 kHz and 16 kHz: {resample:.2f} s; MP3 encoding: {mp3:.2f} s")
    print(f"end to end (synthesis + resampling + MP3): {characters / total:,.0f} characters/s")
    print(f"audio produced: {seconds:.0f} s, {characters / seconds:.2f} spoken characters per second of audio")


if __name__ == "__main__":
    main()
