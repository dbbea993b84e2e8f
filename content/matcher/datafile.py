"""The matcher's versioned data files (content/data/*.tsv): tab-separated rows, ``#`` comments,
and a ``# version: …`` header line."""

from __future__ import annotations

import re

_VERSION_RE = re.compile(r"^#\s*version:\s*(\S+)")


def read_tsv(text: str) -> tuple[str, list[tuple[int, list[str]]]]:
    """(version, [(line number, columns)]) of a data file; blank and comment lines are skipped."""
    version = ""
    rows: list[tuple[int, list[str]]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            m = _VERSION_RE.match(line)
            if m and not version:
                version = m.group(1)
            continue
        rows.append((lineno, line.split("\t")))
    return version, rows


def cell_words(cell: str) -> tuple[str, ...]:
    """The ``;``-separated words of one cell; ``-`` (and empty) means none."""
    return tuple(w for w in cell.split(";") if w and w != "-")
