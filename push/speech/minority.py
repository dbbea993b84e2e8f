"""Minority-language slots: a staff-provided translation (text, and optionally a recording) kept next to the notice.

No offline voice exists for 傣语, 彝语 and the like, so the township's staff translate and record. The files sit
beside the notice file and are found by name::

    notices/TZ-2026-029.yaml
    notices/TZ-2026-029.傣语.txt     the translated script (for the announcer)
    notices/TZ-2026-029.傣语.mp3     a recording (or .wav), played after the Mandarin one

A village's languages come from the 主要语言 column of villages.csv (separated by ；).
"""

from __future__ import annotations

import csv
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

MANDARIN = frozenset({"汉语", "普通话", "汉", "中文", "国语"})
AUDIO_SUFFIXES = (".mp3", ".wav")


@dataclass(frozen=True)
class Translation:
    """One minority language's slot for a notice; ``text``/``audio`` are None until staff provide them."""

    language: str
    text_path: Path
    text: str | None
    audio: Path | None

    @property
    def present(self) -> bool:
        return self.text is not None or self.audio is not None

    def note(self) -> str:
        """What the render tells staff about this slot, in Chinese."""
        if self.text is None and self.audio is None:
            return (
                f"{self.language}译文：未提供。请把{self.language}译文放在 {self.text_path.name}，"
                f"录音放在 {self.text_path.with_suffix('.mp3').name}（与通知文件同一文件夹）。"
            )
        parts = [f"{self.language}译文：" + ("已提供" if self.text is not None else "未提供")]
        parts.append("录音：" + (f"已提供（{self.audio.name}）" if self.audio else "未提供，需由播音员朗读译文"))
        return "，".join(parts) + "。"


def minority_languages(languages: Iterable[str]) -> tuple[str, ...]:
    """The languages other than Mandarin, each once, in order."""
    return tuple(dict.fromkeys(lang.strip() for lang in languages if lang.strip() and lang.strip() not in MANDARIN))


def read_village_languages(path: str | Path) -> dict[str, tuple[str, ...]]:
    """村编码 → its 主要语言, from a villages.csv in the sample format."""
    with Path(path).open(encoding="utf-8", newline="") as handle:
        return {
            row["村编码"].strip(): tuple(
                lang.strip() for lang in (row.get("主要语言") or "").split("；") if lang.strip()
            )
            for row in csv.DictReader(handle)
        }


def languages_for(villages: Literal["all"] | Collection[str], table: Mapping[str, Iterable[str]]) -> tuple[str, ...]:
    """All languages of the target villages (``all`` means every village in ``table``)."""
    codes = list(table) if villages == "all" else list(villages)
    return tuple(dict.fromkeys(lang for code in codes for lang in table.get(code, ())))


def find_translations(notice_path: str | Path, notice_id: str, languages: Iterable[str]) -> list[Translation]:
    """The slot of each minority language among ``languages``, filled from files next to the notice."""
    folder = Path(notice_path).parent
    slots = []
    for language in minority_languages(languages):
        text_path = folder / f"{notice_id}.{language}.txt"
        text = text_path.read_text(encoding="utf-8").strip() if text_path.is_file() else None
        audio = next(
            (p for p in (folder / f"{notice_id}.{language}{s}" for s in AUDIO_SUFFIXES) if p.is_file()),
            None,
        )
        slots.append(Translation(language=language, text_path=text_path, text=text or None, audio=audio))
    return slots
