"""What the matcher answers: :class:`AskResult` and its :class:`ResultRef` s.

A module of its own, with nothing but the standard library: a process that only reads answers
(the bot's server, whose matcher runs in worker processes) imports none of the matcher's modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ResultRef:
    kind: str  # catalog / interpretation / village_item
    id: str
    title: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "title": self.title, "score": round(self.score, 4)}


@dataclass(frozen=True)
class AskResult:
    answered: bool
    reply: str
    results: tuple[ResultRef, ...]
    ms: float
    normalized: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``cunwu ask --json`` and the API (without the input fields)."""
        return {
            "answered": self.answered,
            "reply": self.reply,
            "results": [r.to_dict() for r in self.results],
            "ms": round(self.ms, 3),
        }
