"""``cunwu village``: villages, their disclosure lists, the consistency check, sync and exports."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import click

from admin_cli.context import CliContext, pass_ctx
from admin_cli.output import echo_json, echo_table
from village_lists.checker import Defect, check_all, check_village, overdue_rows
from village_lists.export import FORMATS, check_output, write_csv, write_html, write_xlsx
from village_lists.importer import ListImportReport, import_list, import_list_dir, import_villages
from village_lists.repository import (
    followers_of,
    get_village,
    group_robots,
    list_rows,
    list_villages,
    set_channels,
    set_group_robot,
)
from village_lists.sync import apply_sync, plan_sync

TODAY_HELP = "检查基准日 YYYY-MM-DD（默认今天）"


@click.group("village")
def cli() -> None:
    """村庄与村务公开事项清单：导入、检查、同步、导出。"""


def _today(obj: CliContext, today: dt.datetime | None) -> dt.date:
    return today.date() if today is not None else obj.clock.today()


today_option = click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), help=TODAY_HELP)


@cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@pass_ctx
def import_cmd(obj: CliContext, path: str) -> None:
    """导入村庄基本信息（villages.csv：村编码,村名,乡镇,户数,人口,主要语言,村民小组,微信群,广播分区）。"""
    with obj.session() as session:
        report = import_villages(session, path)
    click.echo(
        f"村庄：{len(report.codes)} 个（新增 {len(report.added)}，更新 {len(report.updated)}，未变 {report.unchanged}）"
    )


def _print_list_report(rep: ListImportReport) -> None:
    click.echo(
        f"{rep.village} 清单：{rep.rows} 行（新增 {len(rep.added)}，更新 {len(rep.updated)}，"
        f"删除 {len(rep.removed)}，未变 {rep.unchanged}）"
    )


@cli.command("import-list")
@click.argument("code", required=False)
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option("--dir", "folder", type=click.Path(file_okay=False), help="导入文件夹中全部 <村编码>.csv / .xlsx")
@pass_ctx
def import_list_cmd(obj: CliContext, code: str | None, path: str | None, folder: str | None) -> None:
    """导入一个村的村务公开事项清单（CSV 或 XLSX），整表替换该村清单。"""
    if folder and (code or path):
        raise click.UsageError("用 --dir 时不要再给 村编码 和 文件")
    if not folder and not (code and path):
        raise click.UsageError("请给出 村编码 和 清单文件，或用 --dir 指定文件夹")
    with obj.session() as session:
        reports = import_list_dir(session, folder) if folder else [import_list(session, code or "", path or "")]
    for rep in reports:
        _print_list_report(rep)


@cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON 数组")
@pass_ctx
def list_cmd(obj: CliContext, as_json: bool) -> None:
    """列出村庄。"""
    with obj.session() as session:
        data: list[dict[str, Any]] = [
            {
                "code": v.code,
                "name": v.name,
                "township": v.township.name,
                "households": v.households,
                "population": v.population,
                "languages": list(v.languages),
                "groups": list(v.groups),
                "wechat_groups": list(v.wechat_groups),
                "loudspeaker_zones": list(v.loudspeaker_zones),
                "oa_tag": v.oa_tag,
                "rows": len(list_rows(session, v.code)),
                "followers": len(followers_of(session, v.code)),
            }
            for v in list_villages(session)
        ]
    if as_json:
        echo_json(data)
        return
    echo_table(
        f"村庄（{len(data)}）",
        ["村编码", "村名", "乡镇", "户数", "人口", "主要语言", "清单行数", "绑定村民"],
        [
            (
                d["code"],
                d["name"],
                d["township"],
                d["households"],
                d["population"],
                "；".join(d["languages"]),
                d["rows"],
                d["followers"],
            )
            for d in data
        ],
    )


def print_defects(defects: list[Defect], title: str) -> None:
    echo_table(
        title,
        ["村", "序号", "类型", "编码", "说明"],
        [(d.village, d.row if d.row is not None else "", d.kind, d.code or "", d.detail) for d in defects],
    )


@cli.command("check")
@click.argument("codes", nargs=-1)
@click.option("--all", "check_every", is_flag=True, help="检查全部村")
@today_option
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@click.pass_context
def check_cmd(
    ctx: click.Context, codes: tuple[str, ...], check_every: bool, today: dt.datetime | None, as_json: bool
) -> None:
    """按乡镇目录检查村务公开清单；发现问题时退出码为 1。"""
    obj = ctx.find_object(CliContext)
    assert obj is not None
    if check_every == bool(codes):
        raise click.UsageError("请给出村编码，或用 --all 检查全部村（二者选一）")
    day = _today(obj, today)
    with obj.session() as session:
        if check_every:
            defects = check_all(session, day)
        else:
            defects = [d for code in codes for d in check_village(session, code, day)]
    if as_json:
        echo_json({"today": day.isoformat(), "defects": [d.as_dict() for d in defects]})
    elif defects:
        print_defects(defects, f"村务公开清单问题（基准日 {day.isoformat()}）")
        counts = Counter(d.kind for d in defects)
        click.echo(f"共 {len(defects)} 个问题：" + "，".join(f"{k} {n}" for k, n in counts.items()))
    else:
        click.echo(f"未发现问题（基准日 {day.isoformat()}）。")
    if defects:
        ctx.exit(1)


@cli.command("sync")
@click.argument("code")
@click.option("--apply", "do_apply", is_flag=True, help="写入修改（默认只显示方案）")
@today_option
@pass_ctx
def sync_cmd(obj: CliContext, code: str, do_apply: bool, today: dt.datetime | None) -> None:
    """按目录补齐必备事项和要素、收紧放宽的时限、删除重复行；不动村民自治事项，不编造公开日期。"""
    day = _today(obj, today)
    with obj.session() as session:
        plan = plan_sync(session, code, day)
        click.echo(plan.diff())
        if not do_apply:
            if not plan.is_empty:
                click.echo("\n这是预览，未写入。确认无误后加 --apply 写入。")
            return
        count = apply_sync(session, plan)
    click.echo(f"\n已写入 {count} 处修改。")


@cli.command("export")
@click.argument("code")
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True, help="xlsx、csv 或 html（公示栏A4）")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, writable=True), required=True)
@click.option("--force", is_flag=True, help="覆盖已存在的、不是之前导出的同类文件（数据库文件仍不覆盖）")
@today_option
@pass_ctx
def export_cmd(obj: CliContext, code: str, fmt: str, output: str, force: bool, today: dt.datetime | None) -> None:
    """导出一个村的清单：xlsx / csv（村委会存档），html（村公示栏 A4 打印稿）。"""
    day = _today(obj, today)
    check_output(output, fmt, protected=_database_files(obj), force=force)
    with obj.session() as session:
        village = get_village(session, code)
        rows = list_rows(session, village.code)
        if fmt == "csv":
            write_csv(rows, output)
        elif fmt == "xlsx":
            write_xlsx(village, rows, output)
        else:
            write_html(village, rows, overdue_rows(check_village(session, village.code, day)), day, output)
    click.echo(f"已导出 {village.code} {village.name} 清单（{len(rows)} 行）：{output}")


def _database_files(obj: CliContext) -> list[Path]:
    """The SQLite database file and its WAL companions (none for PostgreSQL)."""
    url = obj.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return []
    return [Path(url.database + suffix) for suffix in ("", "-wal", "-shm", "-journal")]


@cli.command("channels")
@click.argument("code")
@click.option("--oa-tag", help="公众号标签名（按标签群发给本村关注者）")
@click.option("--outbox", help="大喇叭输出文件夹")
@click.option("--robot", "robots", multiple=True, metavar="群名=KEY", help="企业微信群机器人 webhook key，可多次给出")
@pass_ctx
def channels_cmd(obj: CliContext, code: str, oa_tag: str | None, outbox: str | None, robots: tuple[str, ...]) -> None:
    """查看或设置一个村的推送渠道（机器人 key 只显示是否已设置）。"""
    with obj.session() as session:
        for spec in robots:
            group, sep, key = spec.partition("=")
            if not sep or not group.strip() or not key.strip():
                raise click.BadParameter(f"应为 群名=KEY：{spec}", param_hint="--robot")
            set_group_robot(session, code, group.strip(), key.strip(), secret_key=obj.settings.secret_key)
        if oa_tag is not None or outbox is not None:
            set_channels(session, code, oa_tag=oa_tag, broadcast_outbox=outbox)
        village = get_village(session, code)
        configured = {r.group_name for r in group_robots(session, village.code)}
        click.echo(f"{village.code} {village.name}")
        click.echo(f"公众号标签：{village.oa_tag or '（未设置）'}")
        click.echo(f"大喇叭输出：{village.broadcast_outbox or '（未设置）'}")
        for group in village.wechat_groups:
            click.echo(f"微信群 {group}：{'机器人已设置' if group in configured else '未设置机器人'}")
