"""Small output helpers shared by commands: JSON and rich tables."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from typing import Any

import click
from rich.console import Console
from rich.table import Table


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def echo_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title, show_lines=False)
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    Console(width=max(120, shutil.get_terminal_size().columns)).print(table)


class ProgressBar:
    """A rich progress bar shown only for long jobs (more than ``threshold`` steps)."""

    def __init__(self, label: str, threshold: int = 300) -> None:
        from rich.progress import Progress

        self.label = label
        self.threshold = threshold
        self._progress = Progress(transient=True, console=Console(stderr=True))
        self._task: Any = None

    def __call__(self, done: int, total: int) -> None:
        if total <= self.threshold:
            return
        if self._task is None:
            self._progress.start()
            self._task = self._progress.add_task(self.label, total=total)
        self._progress.update(self._task, completed=done)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self._task is not None:
            self._progress.stop()
            self._task = None
