"""The question sets the quality bench reads are sound: every expected or forbidden id exists, every
fact is in the public text of an expected document, every leak's secret only in hidden text
(``tests/data/tuned/check.py``, standard library). A set that drifts from its township would make
the bench's figures meaningless, so this runs with the tests, for tuned and held-out sets alike; it
prints nothing of a set but its counts unless a row is broken."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

DATA = Path(__file__).resolve().parents[1] / "data"


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("question_set_check", DATA / "tuned" / "check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_tuned_set_holds_against_its_township(capsys: pytest.CaptureFixture[str]) -> None:
    assert _checker().main([]) == 0, capsys.readouterr().out[-2000:]


def test_every_held_out_township_set_holds(capsys: pytest.CaptureFixture[str]) -> None:
    folders = sorted((DATA / "heldout").glob("township_*"))
    assert len(folders) >= 12
    args = [str(p) for folder in folders for p in (folder / "questions.jsonl", folder)]
    assert _checker().main(args) == 0, capsys.readouterr().out[-2000:]
