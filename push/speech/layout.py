"""Files laid out for a broadcast system's import folder.

For a notice played at 2026-11-25 09:00::

    20261125-0900-TZ-2026-028.txt        the script (and any translation) for an announcer
    20261125-0900-TZ-2026-028.wav        PCM16 mono, 16 kHz or 8 kHz
    20261125-0900-TZ-2026-028.mp3
    20261125-0900-TZ-2026-028.傣语.mp3   a staff recording, played after the Mandarin one
    playlist.m3u                        every notice in play-time order (UTF-8 extended M3U)
    .cunwu/TZ-2026-028.json             what was written and the key it was made from

The key is a hash of the script, the pinyin fed to the voice, the voice settings, the sample rate and any
staff recording; when it has not changed the existing files are reused (renamed if only the play time moved).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

PLAYLIST = "playlist.m3u"
STATE_DIR = ".cunwu"
FORMAT_VERSION = 1


def stem(notice_id: str, play_at: dt.datetime) -> str:
    """``YYYYMMDD-HHMM-<notice>``, in the play time's own time zone."""
    return f"{play_at:%Y%m%d-%H%M}-{notice_id}"


def cache_key(
    *, script: str, pinyin: Sequence[str], voice: dict[str, object], rate: int, extra: Iterable[str] = ()
) -> str:
    """A hash of everything that shapes the files."""
    payload = json.dumps(
        {
            "v": FORMAT_VERSION,
            "script": script,
            "pinyin": list(pinyin),
            "voice": voice,
            "rate": rate,
            "extra": list(extra),
        },
        ensure_ascii=False,
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:20]


@dataclass(frozen=True)
class Manifest:
    notice_id: str
    key: str
    stem: str
    files: tuple[str, ...]
    duration: float | None = None

    @staticmethod
    def path(out_dir: Path, notice_id: str) -> Path:
        return out_dir / STATE_DIR / f"{notice_id}.json"

    @classmethod
    def read(cls, out_dir: Path, notice_id: str) -> Manifest | None:
        path = cls.path(out_dir, notice_id)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                notice_id=notice_id,
                key=str(data["key"]),
                stem=str(data["stem"]),
                files=tuple(str(f) for f in data["files"]),
                duration=data.get("duration"),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, out_dir: Path) -> None:
        path = self.path(out_dir, self.notice_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"key": self.key, "stem": self.stem, "files": list(self.files), "duration": self.duration}
        atomic_write(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")

    def all_present(self, out_dir: Path) -> bool:
        return all((out_dir / name).is_file() for name in self.files)

    def renamed(self, out_dir: Path, new_stem: str) -> Manifest:
        """Move the files to ``new_stem`` (same content, new play time)."""
        names = []
        for name in self.files:
            new_name = new_stem + name[len(self.stem) :] if name.startswith(self.stem) else name
            if new_name != name:
                os.replace(out_dir / name, out_dir / new_name)
            names.append(new_name)
        return Manifest(self.notice_id, self.key, new_stem, tuple(names), self.duration)

    def remove_files(self, out_dir: Path) -> None:
        for name in self.files:
            (out_dir / name).unlink(missing_ok=True)


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


@dataclass(frozen=True)
class PlaylistEntry:
    play_at: dt.datetime
    file: str
    title: str
    seconds: int = -1


def update_playlist(out_dir: Path, notice_id: str, entries: Sequence[PlaylistEntry]) -> Path:
    """Replace this notice's entries in ``playlist.m3u`` and keep every entry in play-time order."""
    path = out_dir / PLAYLIST
    kept = [e for e in read_playlist(path) if not _belongs(e.file, notice_id)]
    merged = sorted([*kept, *entries], key=lambda e: (e.play_at, e.file))
    lines = ["#EXTM3U", "#EXTENC:UTF-8"]
    for entry in merged:
        lines.append(f"#EXTINF:{entry.seconds},{entry.title}")
        lines.append(f"#PLAYAT:{entry.play_at.isoformat()}")
        lines.append(entry.file)
    atomic_write(path, "\n".join(lines) + "\n")
    return path


def read_playlist(path: Path) -> list[PlaylistEntry]:
    """Entries of a playlist written by ``update_playlist``; lines it does not understand are dropped."""
    if not path.is_file():
        return []
    entries = []
    seconds, title, play_at = -1, "", None
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("#EXTINF:"):
            head, _, title = line[len("#EXTINF:") :].partition(",")
            seconds = int(head) if re.fullmatch(r"-?\d+", head) else -1
        elif line.startswith("#PLAYAT:"):
            try:
                play_at = dt.datetime.fromisoformat(line[len("#PLAYAT:") :])
            except ValueError:
                play_at = None
        elif line and not line.startswith("#"):
            if play_at is not None:
                entries.append(PlaylistEntry(play_at, line, title, seconds))
            seconds, title, play_at = -1, "", None
    return entries


def _belongs(file: str, notice_id: str) -> bool:
    return re.fullmatch(rf"\d{{8}}-\d{{4}}-{re.escape(notice_id)}(\..+)?", file) is not None
