"""``cunwu report questions``: what villagers asked, most frequent unanswered questions first.

``admin_cli/report_cmd.py`` adds this command to the ``report`` group (``cli.add_command(questions)``).
"""

from __future__ import annotations

import datetime as dt

import click

from admin_cli.context import CliContext, pass_ctx
from admin_cli.output import echo_json, echo_table
from bot.question_log import questions_report
from core.clock import CHINA_TZ


@click.command("questions")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="只看此日期（含）以后的问题 YYYY-MM-DD")
@click.option("--unanswered", is_flag=True, help="只看没有答上来的问题")
@click.option(
    "--source",
    type=click.Choice(["wechat", "api", "all"]),
    default="wechat",
    show_default=True,
    help="问题来源：wechat（村民，公众号）、api（JSON 接口）或 all",
)
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True, help="最多显示多少条")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@pass_ctx
def questions(
    obj: CliContext, since: dt.datetime | None, unanswered: bool, source: str, limit: int, as_json: bool
) -> None:
    """村民提问统计：按规范化后的问题归并，没答上来的高频问题排在最前。"""
    start = since.replace(tzinfo=CHINA_TZ) if since is not None else None
    with obj.session() as session:
        stats = questions_report(session, start, unanswered, limit=limit, channel=None if source == "all" else source)
    if as_json:
        echo_json([s.to_dict() for s in stats])
        return
    scope = "未答上的问题" if unanswered else "村民提问"
    if start is not None:
        scope += f"（{start.date().isoformat()} 起）"
    if not stats:
        click.echo(f"{scope}：没有记录。")
        return
    echo_table(
        scope,
        ["次数", "未答", "提问人数", "问题（示例）", "规范化", "最近提问", "村", "最佳匹配"],
        [
            (
                s.asked,
                s.unanswered,
                s.askers,
                s.example,
                s.normalized,
                s.last_asked.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M"),
                "、".join(s.villages),
                s.top_id,
            )
            for s in stats
        ],
    )


cli = questions
