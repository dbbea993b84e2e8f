"""A notice rendered for the loudspeakers: script, audio, translations and playlist entry in one folder.

``render_notice`` is what the loudspeaker channel calls; ``render_notice_async`` runs it in a worker thread.
Without espeak-ng/lame the script files are still written and ``audio_skipped`` says why.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.clock import CHINA_TZ
from push.notice_file import NoticeFile
from push.speech import audio
from push.speech.audio import AudioUnavailable, Voice
from push.speech.layout import Manifest, PlaylistEntry, cache_key, file_digest, stem, update_playlist
from push.speech.minority import Translation, find_translations
from push.speech.pinyin import sentences_to_pinyin
from push.speech.script import Script, build_script


@dataclass(frozen=True)
class RenderResult:
    script: Script
    stem: str
    out_dir: Path
    files: tuple[Path, ...]
    reused: bool
    audio_skipped: str | None
    translations: tuple[Translation, ...] = field(default=())
    duration: float | None = None
    playlist: Path | None = None

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(t.note() for t in self.translations)


def play_time(notice: NoticeFile, now: dt.datetime) -> dt.datetime:
    """When the notice plays: its ISO schedule, or the next cron time at or after ``now`` (and ``valid_from``)."""
    if notice.send_at is not None:
        return notice.send_at
    if notice.cron is None:
        return now
    from apscheduler.triggers.cron import CronTrigger

    start = now
    if notice.valid_from is not None:
        start = max(now, dt.datetime.combine(notice.valid_from, dt.time(0, 0), tzinfo=CHINA_TZ))
    trigger = CronTrigger.from_crontab(notice.cron, timezone=CHINA_TZ)
    fire: dt.datetime | None = trigger.get_next_fire_time(None, start)
    if fire is None or (notice.valid_until is not None and fire.date() > notice.valid_until):
        return start
    return fire


def render_notice(
    notice: NoticeFile,
    out_dir: str | Path,
    *,
    languages: Sequence[str] = (),
    rate: int = 16000,
    make_audio: bool = True,
    play_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
    voice: Voice = Voice(),
    known_names: Sequence[str] = (),
) -> RenderResult:
    """Write ``<stem>.txt``, ``.wav``, ``.mp3`` (and staff recordings) into ``out_dir`` and update its playlist."""
    if rate not in audio.RATES:
        raise ValueError(f"rate must be one of {audio.RATES}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    script = build_script(notice, known_names=known_names)
    translations = tuple(find_translations(notice.path, notice.id, languages))
    when = play_at or play_time(notice, now or dt.datetime.now(CHINA_TZ))
    name = stem(notice.id, when)
    text = _script_file_text(script, translations)
    pinyin = sentences_to_pinyin(script.sentences)
    skipped = None if make_audio else "已按要求跳过音频（--no-audio）"
    if skipped is None:
        skipped = audio.unavailable_reason()
    extra = [f"{t.language}:{file_digest(t.audio)}" for t in translations if t.audio] + [text]
    key = cache_key(
        script=script.text, pinyin=pinyin, voice=voice.settings(), rate=rate, extra=[*extra, str(skipped is None)]
    )

    old = Manifest.read(out, notice.id)
    if old is not None and old.key == key and old.all_present(out):
        manifest = old if old.stem == name else old.renamed(out, name)
        reused = True
    else:
        if old is not None:
            old.remove_files(out)
        manifest = _write_files(out, name, notice.id, key, text, pinyin, translations, rate, voice, skipped)
        reused = False
    manifest.write(out)
    files = tuple(out / f for f in manifest.files)
    playlist = None
    entries = _playlist_entries(manifest, when, notice.title, notice.id)
    if entries:
        playlist = update_playlist(out, notice.id, entries)
    return RenderResult(
        script=script,
        stem=name,
        out_dir=out,
        files=files,
        reused=reused,
        audio_skipped=skipped,
        translations=translations,
        duration=manifest.duration,
        playlist=playlist,
    )


async def render_notice_async(notice: NoticeFile, out_dir: str | Path, **options: object) -> RenderResult:
    """``render_notice`` in a worker thread: synthesis takes seconds and must not block the event loop."""
    return await asyncio.to_thread(render_notice, notice, out_dir, **options)  # type: ignore[arg-type]


def _script_file_text(script: Script, translations: Sequence[Translation]) -> str:
    """Only what the announcer reads: the script, then each provided translation.

    Staff instructions (a translation or recording still missing, where to put it) are not read aloud: they
    are ``RenderResult.notes``, printed by the CLI and kept in the delivery's note.
    """
    parts = [script.text]
    for slot in translations:
        if slot.text:
            parts.append(f"\n【{slot.language}】\n{slot.text}\n")
    return "".join(parts)


def _write_files(
    out: Path,
    name: str,
    notice_id: str,
    key: str,
    text: str,
    pinyin: Sequence[str],
    translations: Sequence[Translation],
    rate: int,
    voice: Voice,
    skipped: str | None,
) -> Manifest:
    files = [f"{name}.txt"]
    (out / files[0]).write_text(text, encoding="utf-8")
    duration = None
    if skipped is None:
        wav, mp3 = f"{name}.wav", f"{name}.mp3"
        try:
            duration = audio.write_audio(pinyin, wav_path=out / wav, mp3_path=out / mp3, rate=rate, voice=voice)
        except AudioUnavailable:
            (out / wav).unlink(missing_ok=True)
            (out / mp3).unlink(missing_ok=True)
            raise
        files += [wav, mp3]
    for slot in translations:
        if slot.text:
            files.append(f"{name}.{slot.language}.txt")
            (out / files[-1]).write_text(slot.text + "\n", encoding="utf-8")
        if slot.audio:
            files.append(_copy_recording(slot, out, name, rate))
    return Manifest(notice_id=notice_id, key=key, stem=name, files=tuple(files), duration=duration)


def _copy_recording(slot: Translation, out: Path, name: str, rate: int) -> str:
    """A staff MP3 is copied as is; a staff WAV is converted to PCM16 mono at ``rate`` like ours."""
    assert slot.audio is not None
    target = f"{name}.{slot.language}{slot.audio.suffix.lower()}"
    if slot.audio.suffix.lower() == ".wav":
        samples, source_rate = audio.read_wav(slot.audio)
        audio.write_wav(out / target, audio.resample(samples, source_rate, rate), rate)
    else:
        shutil.copyfile(slot.audio, out / target)
    return target


def _playlist_entries(manifest: Manifest, when: dt.datetime, title: str, notice_id: str) -> list[PlaylistEntry]:
    """The Mandarin audio (MP3, else WAV) first, then each staff recording."""
    entries = []
    seconds = round(manifest.duration) if manifest.duration is not None else -1
    main = next((f for f in manifest.files if f == f"{manifest.stem}.mp3"), None) or next(
        (f for f in manifest.files if f == f"{manifest.stem}.wav"), None
    )
    if main:
        entries.append(PlaylistEntry(when, main, f"{notice_id} {title}", seconds))
    for name in manifest.files:
        if name.count(".") == 2 and name.endswith((".mp3", ".wav")):
            language = name.split(".")[1]
            entries.append(PlaylistEntry(when, name, f"{notice_id} {title}（{language}）"))
    return entries
