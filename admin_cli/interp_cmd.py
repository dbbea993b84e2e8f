"""``cunwu interp``: import and read policy interpretations."""

from __future__ import annotations

import click

from admin_cli.context import CliContext, pass_ctx
from admin_cli.output import echo_json, echo_table
from content.interp_import import import_interpretations
from content.repository import get_interpretation, list_interpretations
from content.serialize import interp_dict
from content.vocab import DISCLOSURE_ON_APPLICATION, DISCLOSURE_SECRET


@click.group("interp")
def cli() -> None:
    """政策解读：导入、列表、查看。"""


@cli.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@pass_ctx
def import_cmd(obj: CliContext, paths: tuple[str, ...]) -> None:
    """导入解读文件（.md，可给文件或文件夹）。"""
    with obj.session() as session:
        report = import_interpretations(session, list(paths))
    click.echo(f"新增 {len(report.added)}，更新 {len(report.updated)}，未变 {report.unchanged}")
    if report.metadata_only:
        click.echo("此件不公开（只保存了标题等元数据）：" + " ".join(report.metadata_only))


@cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON 数组")
@pass_ctx
def list_cmd(obj: CliContext, as_json: bool) -> None:
    """列出全部解读（含不公开文件的元数据）。"""
    with obj.session() as session:
        data = [interp_dict(i) for i in list_interpretations(session)]
    if as_json:
        echo_json(data)
        return
    echo_table(
        f"政策解读（{len(data)}）",
        ["编号", "标题", "公开属性", "状态", "关联事项", "文件公开", "解读发布"],
        [
            (d["id"], d["title"], d["disclosure"], d["status"], " ".join(d["items"]), d["published"], d["interpreted"])
            for d in data
        ],
    )


@cli.command("show")
@click.argument("interp_id")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def show_cmd(obj: CliContext, interp_id: str, as_json: bool) -> None:
    """查看一篇解读（不公开文件只显示元数据）。"""
    with obj.session() as session:
        interp = get_interpretation(session, interp_id)
        data = interp_dict(interp, full=True)
    if as_json:
        echo_json(data)
        return
    click.echo(f"{data['id']} {data['title']}")
    click.echo(f"文件：{data['document']}（{data['doc_number']}，{data['issuer']}）")
    click.echo(f"公开属性：{data['disclosure']}    状态：{data['status']}")
    click.echo(
        f"文件公开：{data['published']}    解读发布：{data['interpreted']}    关联事项：{' '.join(data['items'])}"
    )
    if data["disclosure"] == DISCLOSURE_SECRET:
        click.echo("（此件不公开：正文未保存）")
        return
    if data["disclosure"] == DISCLOSURE_ON_APPLICATION:
        click.echo("（此件依申请公开：对村民只告知申请途径）")
    click.echo("")
    click.echo(data.get("summary") or "")
    for qa in data.get("qas", []):
        click.echo(f"\n问：{qa['q']}\n答：{qa['a']}")
