"""Spreadsheet cell text that cannot attack the person who opens it (OWASP CSV injection).

A text cell starting with ``=``, ``+``, ``-``, ``@``, tab or CR is a formula (or becomes one) in
Excel and WPS: ``=HYPERLINK(...)`` leaks data, ``=cmd|' /C calc'!A0`` runs a program. Exports
write such a cell with a leading ``'``; importers remove exactly that ``'`` again, so an export
imports back unchanged.

To keep the pair exact for every string, a text that already starts with ``'`` followed
(after more quotes) by a trigger gets one more ``'``: :func:`neutralise` adds one quote when the
text without its leading quotes starts with a trigger, and :func:`restore` removes one in that
case. ``restore(neutralise(s)) == s`` for every ``s``.
"""

from __future__ import annotations

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def _needs_quote(text: str) -> bool:
    return text.lstrip(QUOTE).startswith(TRIGGERS)


def neutralise(text: str) -> str:
    """The text as an export writes it into a cell."""
    return QUOTE + text if _needs_quote(text) else text


def restore(text: str) -> str:
    """The inverse of :func:`neutralise`, applied to every cell an importer reads."""
    if text.startswith(QUOTE) and _needs_quote(text[1:]):
        return text[1:]
    return text
