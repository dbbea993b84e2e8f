"""``cunwu worker``: a delivery worker process (any number of them on PostgreSQL)."""

from __future__ import annotations

import asyncio
import signal
from concurrent.futures import ThreadPoolExecutor

import click

from admin_cli.context import CliContext, pass_ctx
from admin_cli.output import ProgressBar
from core.schema import ensure_current
from push import queue
from push.runtime import run_worker


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread (tests) or not supported
            pass


@click.command("worker")
@click.option("--concurrency", type=click.IntRange(1, 500), default=10, show_default=True, help="同时发送的条数")
@click.option("--drain", is_flag=True, help="发完当前到期的投递后退出（默认一直运行）")
@pass_ctx
def cli(obj: CliContext, concurrency: int, drain: bool) -> None:
    """发送工作进程：领取到期的投递并发送。可在 PostgreSQL 上同时运行多个。"""
    ensure_current(obj.engine)
    with obj.session() as session:
        total = queue.counts(session).get("pending", 0)
    obj.close()
    bar = ProgressBar("发送中", threshold=300)

    async def main() -> int:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        # database work runs in threads: enough of them for every send in flight
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=concurrency + 4))
        task = asyncio.create_task(run_worker(obj.settings, concurrency=concurrency, drain=drain, stop=stop))
        while not task.done():
            await asyncio.wait({task}, timeout=0.5)
            if drain and total:
                bar(min(total, _handled(task, total)), total)
        bar.close()
        return task.result()

    def _handled(task: asyncio.Task[int], total: int) -> int:
        with obj.session() as session:
            return total - queue.counts(session).get("pending", 0)

    handled = asyncio.run(main())
    click.echo(f"工作进程结束：处理了 {handled} 条投递")
