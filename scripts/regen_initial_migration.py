"""Regenerate migrations/versions/0001_initial.py from the models (only before the first release).

Usage: .venv/bin/python scripts/regen_initial_migration.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command

from core.db import make_engine
from core.schema import MIGRATIONS_DIR, _alembic_config

target = MIGRATIONS_DIR / "versions" / "0001_initial.py"
target.unlink(missing_ok=True)
with tempfile.TemporaryDirectory() as tmp:
    url = f"sqlite:///{tmp}/empty.db"
    engine = make_engine(url)
    cfg = _alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
produced = next((MIGRATIONS_DIR / "versions").glob("0001_*.py"))
if produced != target:
    produced.rename(target)
subprocess.run([sys.executable, "-m", "ruff", "check", "--fix", "-q", str(target)], check=False)
subprocess.run([sys.executable, "-m", "ruff", "format", "-q", str(target)], check=False)
print(f"wrote {target.relative_to(Path.cwd())}")
