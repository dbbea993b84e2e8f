"""``cunwu notice``: import, create, edit, review (发布审查), send and follow village notices."""

from __future__ import annotations

import getpass
from pathlib import Path

import click

from admin_cli.context import CliContext, pass_ctx
from admin_cli.notice_views import delivery_rows, notice_json, print_plan, print_preview
from admin_cli.output import ProgressBar, echo_json, echo_table
from content.repository import active_codes
from core.errors import Problem, ValidationFailed
from push import notices
from push.models import NOTICE_STATES, Notice
from push.notice_file import KINDS, validate_mapping
from push.scheduler import send_now
from push.settings import PushSettings
from push.targeting import plan_targets


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (some containers): the author must then be given
        return "unknown"


by_option = click.option("--by", "by", metavar="NAME", help="操作人姓名（默认为当前登录名）")


@click.group("notice")
def cli() -> None:
    """村务通知：导入、创建、修改、发布审查、发送与查看送达情况。"""


@cli.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
@by_option
@pass_ctx
def import_cmd(obj: CliContext, paths: tuple[str, ...], by: str | None) -> None:
    """导入通知文件 PATH…（YAML）。先全部校验，有错误则一条也不写入；作者记为 --by。"""
    author = by or _login()
    with obj.session() as session:
        loaded, problems = [], []
        for path in paths:
            try:
                loaded.append(notices.load_for_import(session, path))
            except ValidationFailed as exc:
                problems.extend(exc.problems)
        if problems:
            raise ValidationFailed(problems, f"{len(problems)} 处错误，未导入任何通知")
        now = obj.clock.now()
        settings = PushSettings.from_settings(obj.settings)
        for nf in loaded:
            outcome = notices.save_notice(session, nf, by=author, now=now)
            word = {"added": "新增", "updated": "已更新（退回草稿，需重新审查）", "unchanged": "未变"}[outcome]
            click.echo(f"{nf.id} {word}：{nf.title}")
            print_plan(plan_targets(session, notices.get_notice(session, nf.id), settings))


def _text_or_file(value: str | None) -> str | None:
    if value is not None and value.startswith("@"):
        return Path(value[1:]).read_text(encoding="utf-8")
    return value


def _split(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.replace("，", ",").split(",") if v.strip()]


@cli.command("create")
@click.option("--id", "notice_id", required=True, help="通知编号 TZ-YYYY-NNN")
@click.option("--kind", type=click.Choice(KINDS), required=True, help="通知类型")
@click.option("--title", required=True, help="标题")
@click.option("--body", required=True, help="正文；@文件名 表示从文件读取")
@click.option("--villages", required=True, help="村编码，逗号分隔，或 all")
@click.option("--groups", default="", help="指定微信群，逗号分隔（默认该村全部村民群）")
@click.option("--channels", required=True, help="渠道，逗号分隔：公众号,微信群,广播（顺序即优先级）")
@click.option("--schedule", required=True, help="发送时间（如 2026-11-25T09:00:00+08:00）或 5 段 cron 表达式")
@click.option("--items", default="", help="关联目录编码，逗号分隔")
@click.option("--valid-from", help="cron 通知的生效日期 YYYY-MM-DD")
@click.option("--valid-until", help="cron 通知的截止日期 YYYY-MM-DD")
@click.option("--publicity-days", type=int, help="公示期（工作日）")
@click.option("--urgent", is_flag=True, help="紧急通知，插队发送")
@by_option
@pass_ctx
def create_cmd(obj: CliContext, notice_id: str, by: str | None, **fields: object) -> None:
    """新建一条通知（草稿），校验规则与导入相同。"""
    data: dict[str, object] = {
        "id": notice_id,
        "kind": fields["kind"],
        "title": fields["title"],
        "body": _text_or_file(str(fields["body"])),
        "items": _split(str(fields["items"])) or [],
        "targets": {
            "villages": "all" if fields["villages"] == "all" else _split(str(fields["villages"])),
            "groups": _split(str(fields["groups"])) or [],
        },
        "channels": _split(str(fields["channels"])),
        "schedule": fields["schedule"],
    }
    if len(str(fields["schedule"]).split()) == 5:
        data["repeat"] = "cron"
    for key in ("valid_from", "valid_until", "publicity_days"):
        if fields[key] is not None:
            data[key] = fields[key]
    if fields["urgent"]:
        data["priority"] = "urgent"
    with obj.session() as session:
        if session.get(Notice, notice_id) is not None:
            raise ValidationFailed([Problem(notice_id, None, "id", "该编号已存在，请用 cunwu notice edit 修改")])
        nf = validate_mapping(
            data,
            f"{notice_id}.yaml",
            known_codes=active_codes(session),
            known_villages=notices.known_villages(session),
        )
        notices.save_notice(session, nf, by=by or _login(), now=obj.clock.now(), action="create")
        click.echo(f"{notice_id} 已创建（草稿）：{nf.title}")
        print_plan(
            plan_targets(session, notices.get_notice(session, notice_id), PushSettings.from_settings(obj.settings))
        )


@cli.command("edit")
@click.argument("notice_id", metavar="ID")
@click.option("--title", help="标题")
@click.option("--body", help="正文；@文件名 表示从文件读取")
@click.option("--schedule", help="发送时间或 cron 表达式")
@click.option("--channels", help="渠道，逗号分隔")
@click.option("--valid-until", help="cron 通知的截止日期")
@click.option("--publicity-days", type=int, help="公示期（工作日）")
@by_option
@pass_ctx
def edit_cmd(obj: CliContext, notice_id: str, by: str | None, **fields: str | int | None) -> None:
    """修改通知；已审查通过的通知改后退回草稿，需重新审查。"""
    changes: dict[str, object] = {
        "title": fields["title"],
        "body": _text_or_file(fields["body"] if isinstance(fields["body"], str) else None),
        "schedule": fields["schedule"],
        "channels": _split(fields["channels"] if isinstance(fields["channels"], str) else None),
        "valid_until": fields["valid_until"],
        "publicity_days": fields["publicity_days"],
    }
    with obj.session() as session:
        outcome = notices.edit_notice(session, notice_id, changes, by=by or _login(), now=obj.clock.now())
        status = notices.get_notice(session, notice_id).status
    click.echo(f"{notice_id} {'未变' if outcome == 'unchanged' else '已修改'}（状态：{status}）")


@cli.command("list")
@click.option("--status", type=click.Choice(NOTICE_STATES), help="只列出此状态")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@pass_ctx
def list_cmd(obj: CliContext, status: str | None, as_json: bool) -> None:
    """列出通知：编号、状态、类型、作者、审查人、发送时间、标题。"""
    with obj.session() as session:
        rows = notices.list_notices(session, status)
        data = [
            {
                "id": n.id,
                "status": n.status,
                "kind": n.kind,
                "author": n.author,
                "approved_by": n.approved_by,
                "schedule": n.schedule,
                "title": n.title,
            }
            for n in rows
        ]
    if as_json:
        echo_json(data)
        return
    echo_table(None, ["编号", "状态", "类型", "作者", "审查人", "发送时间", "标题"], [list(d.values()) for d in data])


@cli.command("show")
@click.argument("notice_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@pass_ctx
def show_cmd(obj: CliContext, notice_id: str, as_json: bool) -> None:
    """一条通知的送达情况：按渠道和状态列出每条投递。"""
    with obj.session() as session:
        notice = notices.get_notice(session, notice_id)
        data = notice_json(session, notice)
        events = notices.history(session, notice_id)
    if as_json:
        echo_json(data)
        return
    click.echo(
        f"{notice_id} {notice.title}（状态：{notice.status}，作者：{notice.author}，"
        f"审查人：{notice.approved_by or '—'}）"
    )
    echo_table(None, ["渠道", "对象", "状态", "尝试", "原因 / 备注"], delivery_rows(data["deliveries"]))
    for e in events:
        click.echo(f"  {e.at:%Y-%m-%d %H:%M} {e.actor} {e.action} {e.from_status}→{e.to_status} {e.detail}".rstrip())


@cli.command("approve")
@click.argument("notice_id", metavar="ID")
@click.option("--by", "by", required=True, metavar="NAME", help="审查人姓名（不能是作者）")
@pass_ctx
def approve_cmd(obj: CliContext, notice_id: str, by: str) -> None:
    """发布审查：隐私检查与渠道检查通过后，由作者以外的审查人批准。"""
    settings = PushSettings.from_settings(obj.settings)
    with obj.session() as session:
        notice = notices.get_notice(session, notice_id)
        plan = plan_targets(session, notice, settings)
        print_plan(plan)
        notices.approve(session, notice_id, by=by, now=obj.clock.now(), unconfigured=plan.unconfigured)
    click.echo(f"{notice_id} 已由 {by} 审查通过，将按计划发送（{notice.schedule}）")


@cli.command("cancel")
@click.argument("notice_id", metavar="ID")
@by_option
@pass_ctx
def cancel_cmd(obj: CliContext, notice_id: str, by: str | None) -> None:
    """撤销通知；尚未发送的投递一并取消。"""
    with obj.session() as session:
        n = notices.cancel(session, notice_id, by=by or _login(), now=obj.clock.now())
    click.echo(f"{notice_id} 已撤销，取消了 {n} 条待发投递")


@cli.command("send-now")
@click.argument("notice_id", metavar="ID")
@pass_ctx
def send_now_cmd(obj: CliContext, notice_id: str) -> None:
    """立即发送一条已审查通过的通知（排入队列，由 worker 发送）。"""
    settings = PushSettings.from_settings(obj.settings)
    with obj.session() as session:
        notice = notices.get_notice(session, notice_id)
        notices.require_sendable(notice)
        bar = ProgressBar("排入发送队列", threshold=2000)
        added = send_now(session, notice, settings, obj.clock.now(), progress=bar)
        bar.close()
    click.echo(f"{notice_id} 已排入发送队列：{added} 条投递（运行 cunwu worker 发送）")


@cli.command("resolve")
@click.argument("notice_id", metavar="ID")
@click.option("--sent", "outcome", flag_value="sent", help="核实已送达：记为已发送")
@click.option("--resend", "outcome", flag_value="resend", help="核实未送达：重新发送")
@click.option("--delivery", "delivery_id", type=int, help="只处理这一条投递（默认该通知全部“不确定”的投递）")
@by_option
@pass_ctx
def resolve_cmd(obj: CliContext, notice_id: str, outcome: str | None, delivery_id: int | None, by: str | None) -> None:
    """处理“不确定”的投递（工作进程在发送途中中断）：--sent 记为已发送，或 --resend 重新发送。"""
    if outcome is None:
        raise click.UsageError("请给出 --sent 或 --resend")
    with obj.session() as session:
        n = notices.resolve_uncertain(
            session, notice_id, outcome, by=by or _login(), now=obj.clock.now(), delivery_id=delivery_id
        )
    click.echo(f"{notice_id}：{n} 条不确定的投递已{'记为已发送' if outcome == 'sent' else '重新排队'}")


@cli.command("preview")
@click.argument("notice_id", metavar="ID")
@pass_ctx
def preview_cmd(obj: CliContext, notice_id: str) -> None:
    """预览：每个对象将收到的内容（分段与隐私规则之后）。"""
    settings = PushSettings.from_settings(obj.settings)
    with obj.session() as session:
        notice = notices.get_notice(session, notice_id)
        print_preview(notice, plan_targets(session, notice, settings), settings)
