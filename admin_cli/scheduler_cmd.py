"""``cunwu scheduler``: the timer process that enqueues due deliveries from the notices table."""

from __future__ import annotations

import asyncio
import datetime as dt

import click

from admin_cli.context import CliContext, pass_ctx
from admin_cli.worker_cmd import _stop_on_signals
from core.clock import CHINA_TZ
from core.schema import ensure_current
from push.runtime import run_scheduler


@click.command("scheduler")
@click.option("--once", is_flag=True, help="只补齐一次到期的发送时刻并退出")
@click.option(
    "--at",
    type=click.DateTime(["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]),
    help="与 --once 同用：以此北京时间代替当前时间（演练补发与错过的规则）",
)
@pass_ctx
def cli(obj: CliContext, once: bool, at: dt.datetime | None) -> None:
    """定时器进程：按通知表排入到期的投递（重复触发或多个进程同时运行也不会重复发送）。"""
    ensure_current(obj.engine)
    obj.close()

    async def main() -> None:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        now = at.replace(tzinfo=CHINA_TZ) if at is not None else None
        report = await run_scheduler(obj.settings, once=once, stop=stop, now=now)
        for label in report.enqueued:
            click.echo(f"已排入：{label}")
        for label in report.late:
            click.echo(f"补发：{label}")
        for label in report.missed:
            click.echo(f"已错过（超过补发时限，未发送）：{label}")
        click.echo(f"新增投递 {report.deliveries} 条")

    asyncio.run(main())
