"""``cunwu broadcast``: loudspeaker scripts and audio from a notice file; no database needed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from core.errors import AppError, NotFound
from push.notice_file import load_notice
from push.speech import audio
from push.speech.minority import languages_for, read_village_languages
from push.speech.numbers import speak_numbers
from push.speech.pinyin import sentences_to_pinyin
from push.speech.render import render_notice
from push.speech.script import spoken


@click.group()
def cli() -> None:
    """大喇叭广播：把通知变成播音稿和音频（MP3 / WAV）。"""


@cli.command()
@click.argument("notice", metavar="NOTICE.yaml")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("broadcast"),
    show_default=True,
    help="输出文件夹（广播系统的导入文件夹）",
)
@click.option(
    "--rate",
    type=click.Choice(["8000", "16000"]),
    default="16000",
    show_default=True,
    help="WAV 采样率：16000，或 8000（SIP/IP 寻呼设备）",
)
@click.option("--no-audio", is_flag=True, help="只生成播音稿，不生成音频")
@click.option(
    "--villages",
    "villages_csv",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="villages.csv（读取各村主要语言）；默认用通知文件上一级文件夹里的 villages.csv",
)
@click.option(
    "--at",
    "play_at",
    type=click.DateTime(["%Y-%m-%dT%H:%M%z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M"]),
    help="播放时间（默认取通知的 schedule；cron 通知取下一次）",
)
def render(
    notice: str, out_dir: Path, rate: str, no_audio: bool, villages_csv: Path | None, play_at: dt.datetime | None
) -> None:
    """打印通知 NOTICE.yaml 的播音稿，并把播音稿、音频和播放列表写入 --out 文件夹。"""
    path = Path(notice)
    if not path.is_file():
        raise NotFound(f"找不到通知文件：{notice}（通知入库后可按编号生成，目前请给出通知文件路径）")
    parsed = load_notice(path)
    csv_path = villages_csv or _default_villages_csv(path)
    languages: tuple[str, ...] = ()
    if csv_path is not None:
        languages = languages_for(parsed.villages, read_village_languages(csv_path))
    if play_at is not None and play_at.tzinfo is None:
        from core.clock import CHINA_TZ

        play_at = play_at.replace(tzinfo=CHINA_TZ)
    result = render_notice(
        parsed, out_dir, languages=languages, rate=int(rate), make_audio=not no_audio, play_at=play_at
    )
    click.echo(result.script.text, nl=False)
    click.echo("")
    for note in result.notes:
        click.echo(note)
    if result.audio_skipped:
        click.echo(f"未生成音频：{result.audio_skipped.removeprefix('未生成音频：')}")
    elif result.duration is not None:
        click.echo(f"音频时长约 {result.duration:.0f} 秒（WAV {rate} Hz 单声道，另有 MP3）")
    click.echo(("已复用未变化的文件：" if result.reused else "已写入文件：") + str(result.out_dir))
    for file in result.files:
        click.echo(f"  {file.name}")
    if result.playlist is not None:
        click.echo(f"  {result.playlist.name}（播放列表）")


@cli.command()
@click.argument("text")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="输出文件：.wav 或 .mp3"
)
@click.option("--rate", type=click.Choice(["8000", "16000"]), default="16000", show_default=True, help="WAV 采样率")
def say(text: str, output: Path, rate: str) -> None:
    """把一段文字读成音频文件，试听用。"""
    sentences = spoken(text)
    is_mp3 = output.suffix.lower() == ".mp3"
    reason = audio.unavailable_reason(mp3=is_mp3)
    if reason:
        raise AppError(f"未生成音频：{reason}")
    duration = audio.write_audio(
        sentences_to_pinyin(sentences),
        wav_path=None if is_mp3 else output,
        mp3_path=output if is_mp3 else None,
        rate=int(rate),
    )
    click.echo("".join(sentences) if sentences else speak_numbers(text))
    click.echo(f"已写入 {output}（约 {duration:.1f} 秒）")


def _default_villages_csv(notice_path: Path) -> Path | None:
    candidate = notice_path.resolve().parent.parent / "villages.csv"
    return candidate if candidate.is_file() else None
