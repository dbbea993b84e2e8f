"""``cunwu catalog``: import and read the township disclosure catalog."""

from __future__ import annotations

import click

from admin_cli.context import CliContext, pass_ctx
from admin_cli.output import ProgressBar, echo_json, echo_table
from content.catalog_import import ImportReport, import_catalog
from content.repository import get_items, list_items
from content.serialize import item_dict


@click.group("catalog")
def cli() -> None:
    """政务公开事项标准目录：导入、列表、查看。"""


def _print_report(report: ImportReport) -> None:
    head = "（演练，未写入）" if report.dry_run else ""
    for name, count in report.township_counts.items():
        click.echo(f"{name}：{count} 个事项{head}")
    click.echo(
        f"新增 {len(report.added)}，更新 {len(report.updated)}，恢复 {len(report.reactivated)}，"
        f"停用 {len(report.retired)}，未变 {report.unchanged}"
    )
    for warning in report.retire_warnings:
        click.echo(f"注意：{warning}" + ("；正式导入需加 --allow-retire" if report.dry_run else ""))
    for label, codes in (
        ("新增", report.added),
        ("更新", report.updated),
        ("恢复", report.reactivated),
        ("停用", report.retired),
    ):
        if codes and (report.dry_run or len(codes) <= 20):
            click.echo(f"  {label}：" + " ".join(codes))


@cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--township", help="目录所属乡镇（库中只有一个乡镇时可省略；文件有“乡镇”列时不用）")
@click.option("--dry-run", is_flag=True, help="只显示将发生的变化，不写入")
@click.option("--allow-retire", is_flag=True, help="允许停用一个乡镇现有事项的 20% 以上（文件确实只含部分事项时）")
@pass_ctx
def import_cmd(obj: CliContext, path: str, township: str | None, dry_run: bool, allow_retire: bool) -> None:
    """从标准目录表格（CSV：UTF-8/GBK，或 XLSX）导入目录。"""
    bar = ProgressBar("导入目录")
    try:
        with obj.session() as session:
            report = import_catalog(
                session, path, township=township, dry_run=dry_run, allow_retire=allow_retire, progress=bar
            )
            if dry_run:
                session.rollback()
    finally:
        bar.close()
    _print_report(report)


@cli.command("list")
@click.option("--domain", help="只列某个试点领域（名称或两位领域号）")
@click.option("--township", help="只列某个乡镇")
@click.option("--all", "include_all", is_flag=True, help="包括已停用（retired）的事项")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON 数组")
@pass_ctx
def list_cmd(obj: CliContext, domain: str | None, township: str | None, include_all: bool, as_json: bool) -> None:
    """列出目录事项。"""
    with obj.session() as session:
        items = list_items(session, township=township, domain=domain, include_retired=include_all)
        data = [item_dict(it) for it in items]
    if as_json:
        echo_json(data)
        return
    echo_table(
        f"目录事项（{len(data)}）",
        ["乡镇", "编码", "领域", "一级事项", "二级事项", "方式", "层级", "状态"],
        [
            (
                d["township"],
                d["code"],
                d["domain"],
                d["group"],
                d["title"],
                d["method"],
                "；".join(d["levels"]),
                "停用" if d["status"] == "retired" else "",
            )
            for d in data
        ],
    )


@cli.command("show")
@click.argument("code")
@click.option("--township", help="乡镇（同一编码在多个乡镇时）")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def show_cmd(obj: CliContext, code: str, township: str | None, as_json: bool) -> None:
    """查看一个目录事项的全部要素。"""
    with obj.session() as session:
        data = [item_dict(it) for it in get_items(session, code, township=township)]
    if as_json:
        echo_json(data[0] if len(data) == 1 else data)
        return
    labels = [
        ("township", "乡镇"),
        ("code", "编码"),
        ("domain", "试点领域"),
        ("group", "一级事项"),
        ("title", "二级事项"),
        ("elements", "公开内容（要素）"),
        ("basis", "公开依据"),
        ("time_limit", "公开时限"),
        ("publishers", "公开主体"),
        ("channels", "公开渠道和载体"),
        ("audience", "公开对象"),
        ("method", "公开方式"),
        ("levels", "公开层级"),
        ("status", "状态"),
    ]
    for d in data:
        for key, label in labels:
            value = d[key]
            if isinstance(value, list):
                value = "、".join(value) if key == "elements" else "；".join(value)
            click.echo(f"{label}：{value}")
        click.echo("")
