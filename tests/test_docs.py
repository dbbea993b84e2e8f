"""README stays true: every command and every setting is documented."""

from __future__ import annotations

import dataclasses

import click

from admin_cli.main import cli
from core.config import Settings
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str, ctx: click.Context) -> list[str]:
    out = []
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        assert cmd is not None
        full = f"{prefix} {name}"
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, full, ctx))
        else:
            out.append(full)
    return out


def test_every_command_is_in_the_readme() -> None:
    ctx = click.Context(cli)
    commands = _commands(cli, "cunwu", ctx)
    assert "cunwu catalog import" in commands
    missing = [c for c in commands if f"`{c}" not in README]
    assert not missing, f"undocumented commands: {missing}"


def test_every_setting_is_in_the_readme() -> None:
    names = [f"CUNWU_{f.name.upper()}" for f in dataclasses.fields(Settings) if f.name != "extra"]
    missing = [n for n in names if n not in README]
    assert not missing, f"undocumented settings: {missing}"


def test_readme_starts_with_the_two_commands() -> None:
    head = README.split("\n## ", 1)[0]
    assert "make run" in head and "make test" in head
