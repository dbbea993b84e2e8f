"""``cunwu ask``: ask the question matcher, one question or a JSONL batch."""

from __future__ import annotations

import json
from typing import Any

import click

from admin_cli.context import CliContext, pass_ctx
from content.matcher.service import AskResult, Matcher
from village_lists.documents import village_docs


def _matcher(obj: CliContext) -> Matcher:
    with obj.session() as session:
        return Matcher.from_session(session, village_docs(session))


def _echo_result(res: AskResult, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(res.to_dict(), ensure_ascii=False))
        return
    click.echo(res.reply)
    if res.results:
        click.echo("")
        for n, r in enumerate(res.results, 1):
            click.echo(f"{n}. [{r.kind}] {r.id} {r.title}（{r.score:.3f}）")
    if not res.answered:
        click.echo("（未作答：置信度不足或不是政务问题）")


@click.command("ask")
@click.argument("question", required=False)
@click.option("--village", metavar="CODE", help="提问村民绑定的村编码，如 QH01")
@click.option("--top", default=3, show_default=True, type=click.IntRange(1, 20), help="列出的结果个数")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@click.option(
    "--batch",
    type=click.File("r", encoding="utf-8"),
    help='批量提问：JSONL 文件，每行 {"q": "...", "village": null}；结果按行输出 JSONL',
)
@pass_ctx
def cli(obj: CliContext, question: str | None, village: str | None, top: int, as_json: bool, batch: Any) -> None:
    """用问答匹配器回答一个村民问题（或批量回答 JSONL 文件里的问题）。"""
    if batch is None and not question:
        raise click.UsageError("请给出问题，或用 --batch 指定问题文件")
    if batch is not None and question:
        raise click.UsageError("问题和 --batch 只能二选一")
    matcher = _matcher(obj)
    if batch is None:
        assert question is not None
        _echo_result(matcher.ask(question, village=village, top=top), as_json)
        return
    for lineno, line in enumerate(batch, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise click.ClickException(f"第 {lineno} 行不是合法的 JSON：{exc.msg}") from exc
        if not isinstance(row, dict) or not isinstance(row.get("q"), str):
            raise click.ClickException(f'第 {lineno} 行应为含 "q" 字段的 JSON 对象')
        res = matcher.ask(row["q"], village=row.get("village") or village, top=top)
        click.echo(json.dumps({**row, **res.to_dict()}, ensure_ascii=False))
