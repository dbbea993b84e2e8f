"""Size limits on every input file, the same for CSV, XLSX and Markdown (README lists them).

They keep a mistaken or hostile file from filling the database or the matcher's memory: each
limit is far above anything a real catalog, list or interpretation needs.
"""

from __future__ import annotations

MAX_FIELD_CHARS = 4_000  # one spreadsheet cell, one front-matter field, one question or answer
MAX_TITLE_CHARS = 200  # 二级事项, 公开事项, an interpretation's title
MAX_FILE_BYTES = 50 * 1024 * 1024  # a spreadsheet file
MAX_UNZIPPED_BYTES = 500 * 1024 * 1024  # what an XLSX (a zip) may expand to
MAX_ROWS = 300_000  # rows of a spreadsheet
MAX_INTERP_BYTES = 200 * 1024  # one interpretation file
MAX_FRONT_MATTER_BYTES = 16 * 1024  # its YAML front matter
MAX_QA_PAIRS = 50  # question-and-answer pairs in one interpretation


def too_long(value: str, limit: int) -> str | None:
    """The problem message when ``value`` is over ``limit`` characters, else None."""
    if len(value) > limit:
        return f"长度 {len(value):,} 字，超过上限 {limit:,} 字"
    return None


def column_limit(model: type, attribute: str, limit: int = MAX_FIELD_CHARS) -> int:
    """``limit``, or the width of the model's ``String(n)`` column where that is narrower.

    PostgreSQL refuses text wider than its ``VARCHAR(n)``; checking first turns that into a
    line-numbered problem on every database.
    """
    width = getattr(model.__table__.c[attribute].type, "length", None)  # type: ignore[attr-defined]
    return min(limit, width) if width else limit
