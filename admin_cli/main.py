"""The ``cunwu`` command: a thin layer over the library packages.

Exit codes: 0 ok, 1 validation failure or other error, 2 usage error.
Errors print as one clear line; tracebacks only with ``--verbose``.
"""

from __future__ import annotations

import importlib
import logging
import traceback
from typing import Any

import click

from admin_cli.context import CliContext
from core.config import load_settings
from core.errors import AppError, ValidationFailed

# (module, command name) pairs; each module defines a click command or group named ``cli``.
COMMANDS = [
    ("admin_cli.db_cmd", "db"),
    ("admin_cli.catalog_cmd", "catalog"),
    ("admin_cli.interp_cmd", "interp"),
    ("admin_cli.sample_cmd", "load-sample"),
    ("admin_cli.ask_cmd", "ask"),
    ("admin_cli.village_cmd", "village"),
    ("admin_cli.report_cmd", "report"),
    ("admin_cli.broadcast_cmd", "broadcast"),
    ("admin_cli.dev_cmd", "dev"),
    ("admin_cli.chat_cmd", "chat"),
    ("admin_cli.serve_cmd", "serve"),
    ("admin_cli.notice_cmd", "notice"),
    ("admin_cli.worker_cmd", "worker"),
    ("admin_cli.scheduler_cmd", "scheduler"),
]


class CunwuGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for _, name in COMMANDS if self._load(name) is not None]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; our errors become one clear line and an exit code."""
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except ValidationFailed as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            click.echo(f"错误：{exc.message}", err=True)
            ctx.exit(1)
        except AppError as exc:
            if _verbose(ctx):
                traceback.print_exc()
            click.echo(f"错误：{exc.message}", err=True)
            ctx.exit(exc.exit_code)
        except Exception as exc:  # the last line of defence: one line, not a traceback
            if _verbose(ctx):
                traceback.print_exc()
            click.echo(f"错误：{type(exc).__name__}: {exc}（加 --verbose 查看详情）", err=True)
            ctx.exit(1)

    def _load(self, name: str) -> click.Command | None:
        for module, cmd in COMMANDS:
            if cmd == name:
                try:
                    mod = importlib.import_module(module)
                except ModuleNotFoundError as exc:
                    if exc.name == module:
                        return None
                    raise
                command: click.Command = mod.cli
                return command
        return None


def _verbose(ctx: click.Context) -> bool:
    obj = ctx.find_object(CliContext)
    return bool(obj and obj.verbose)


@click.group(cls=CunwuGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db", "database_url", metavar="URL", help="数据库地址，如 sqlite:///var/cunwu.db 或 postgresql://user@host/db"
)
@click.option("--verbose", "-v", is_flag=True, help="出错时显示完整调用栈，并输出调试日志")
@click.pass_context
def cli(ctx: click.Context, database_url: str | None, verbose: bool) -> None:
    """村务通 Cunwu：政务公开目录、村务公开清单、村民问答与通知推送。"""
    settings = load_settings({"database_url": database_url})
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    obj = CliContext(settings=settings, verbose=verbose)
    ctx.obj = obj
    ctx.call_on_close(obj.close)


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``cunwu`` console script."""
    return cli.main(args=argv, prog_name="cunwu")


if __name__ == "__main__":  # pragma: no cover
    main()
