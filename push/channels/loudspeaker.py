"""Village loudspeakers (村村响): the broadcast render dropped into the village's outbox, atomically.

The script (``.txt``, only what the announcer reads), the audio (WAV and MP3, peaks ≤ −1 dBFS) and the
playlist entry are rendered into a hidden temporary folder inside the outbox, then each file is moved into
place with ``os.replace`` (a rename on one filesystem): a system polling the folder never reads half a file.
Staff notes (a missing translation) go to the delivery's note, not into the script. Optionally the files are
also posted to a vendor's HTTP upload API (``CUNWU_LOUDSPEAKER_UPLOAD_URL``). Re-sending replaces the same
files, so a retry after a crash is harmless.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from push.channels.base import SendContext
from push.delivery import Claimed, Permanent, Retry, Sent
from push.notice_file import NoticeFile
from push.notices import to_notice_file
from push.speech.layout import read_playlist, update_playlist
from push.speech.minority import minority_languages
from push.speech.render import render_notice


@dataclass(frozen=True)
class Dropped:
    files: tuple[Path, ...]
    notes: tuple[str, ...]


def drop_into_outbox(notice: NoticeFile, outbox: Path, play_at: dt.datetime, languages: tuple[str, ...]) -> Dropped:
    """Render ``notice`` and move its files into ``outbox`` one rename each; returns the files and staff notes."""
    outbox.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=outbox, prefix=".incoming-") as tmp:
        result = render_notice(notice, tmp, languages=languages, play_at=play_at)
        moved = []
        for file in result.files:
            target = outbox / file.name
            os.replace(file, target)
            moved.append(target)
        if result.playlist is not None:
            update_playlist(outbox, notice.id, read_playlist(result.playlist))
        notes = list(result.notes)
        if result.audio_skipped:
            notes.append(f"未生成音频：{result.audio_skipped.removeprefix('未生成音频：')}")
    return Dropped(tuple(moved), tuple(notes))


class LoudspeakerChannel:
    name = "loudspeaker"

    async def send(self, job: Claimed, ctx: SendContext) -> Sent:
        notice = await ctx.notice(job.notice_id)
        village = await ctx.village(job.target)
        if village is None:
            raise Permanent(f"村 {job.target} 不存在")
        outbox = (
            Path(village.broadcast_outbox)
            if village.broadcast_outbox
            else Path(ctx.settings.broadcast_dir) / village.code
        )
        play_at = _slot_time(job.slot) or ctx.now()
        languages = minority_languages(village.languages or [])
        try:
            dropped = await asyncio.to_thread(drop_into_outbox, to_notice_file(notice), outbox, play_at, languages)
        except OSError as exc:
            raise Retry(f"写入大喇叭文件夹失败：{exc}") from None
        note = "；".join(dropped.notes)
        if ctx.settings.loudspeaker_upload_url:
            await _upload(ctx, village.code, notice.id, job.slot, dropped.files)
            note = (note + "；" if note else "") + "已上传到广播厂商接口"
        return Sent(note=note)


def _slot_time(slot: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(slot.replace("Z", "+00:00"))
    except ValueError:
        return None


async def _upload(ctx: SendContext, village: str, notice_id: str, slot: str, files: tuple[Path, ...]) -> None:
    form = aiohttp.FormData()
    form.add_field("village", village)
    form.add_field("notice_id", notice_id)
    form.add_field("slot", slot)
    for path in files:
        # a stream, not raw bytes: aiohttp warns that a large bytes body could block the event loop
        form.add_field(
            "file", io.BytesIO(path.read_bytes()), filename=path.name, content_type="application/octet-stream"
        )
    try:
        async with ctx.http.post(
            ctx.settings.loudspeaker_upload_url, data=form, timeout=aiohttp.ClientTimeout(total=60)
        ) as resp:
            answer = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise Retry(f"广播厂商接口不可用：{type(exc).__name__}") from None
    if not isinstance(answer, dict) or answer.get("errcode") not in (0, None):
        raise Permanent(f"广播厂商接口拒绝上传：{answer}")
