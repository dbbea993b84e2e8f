"""``cunwu report``: reports for township staff (compliance; more subcommands join this group)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import click

from admin_cli.context import CliContext, pass_ctx
from admin_cli.output import echo_json, echo_table
from admin_cli.report_deliveries import deliveries
from admin_cli.report_questions import questions
from village_lists.compliance import compliance_report


@click.group("report")
def cli() -> None:
    """报表：政务公开合规情况等。"""


@cli.command("compliance")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), help="基准日 YYYY-MM-DD（默认今天）")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@pass_ctx
def compliance_cmd(obj: CliContext, today: dt.datetime | None, as_json: bool) -> None:
    """合规报告：各村清单问题，以及乡镇层面的解读逾期发布、已废止文件仍被关联。"""
    day = today.date() if today is not None else obj.clock.today()
    with obj.session() as session:
        report = compliance_report(session, day)
    if as_json:
        echo_json(report.as_dict())
        return
    click.echo(f"政务公开合规报告（基准日 {day.isoformat()}）")
    if report.defects:
        echo_table(
            "各村村务公开清单问题",
            ["村", "序号", "类型", "编码", "说明"],
            [(d.village, d.row if d.row is not None else "", d.kind, d.code or "", d.detail) for d in report.defects],
        )
        by_village = Counter(d.village for d in report.defects)
        click.echo("各村问题数：" + "，".join(f"{v} {n}" for v, n in sorted(by_village.items())))
    else:
        click.echo("各村清单：未发现问题。")
    if report.township:
        echo_table(
            "乡镇层面",
            ["类型", "解读", "关联事项", "说明"],
            [(f.kind, f.subject, " ".join(f.codes), f.detail) for f in report.township],
        )
    else:
        click.echo("乡镇层面：未发现问题。")


cli.add_command(questions)
cli.add_command(deliveries)
