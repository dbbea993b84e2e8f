"""``cunwu db``: schema migrations."""

from __future__ import annotations

import click

from admin_cli.context import CliContext, pass_ctx
from core.schema import check_not_newer, current_revision, head_revision, upgrade


@click.group("db")
def cli() -> None:
    """数据库结构管理。"""


@cli.command("upgrade")
@pass_ctx
def upgrade_cmd(obj: CliContext) -> None:
    """把数据库结构升级到最新版本（可重复运行；同时运行的几个会依次进行）。"""
    before, after = upgrade(obj.engine)
    if before == after:
        click.echo(f"数据库已是最新版本（{after}）。")
    else:
        click.echo(f"数据库已升级：{before or '空库'} → {after}")


@cli.command("status")
@pass_ctx
def status_cmd(obj: CliContext) -> None:
    """显示数据库当前版本与最新版本。"""
    cur, head = current_revision(obj.engine), head_revision()
    click.echo(f"当前版本：{cur or '未初始化'}；最新版本：{head}")
    check_not_newer(cur)
    if cur != head:
        click.echo("请运行：cunwu db upgrade")
