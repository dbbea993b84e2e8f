"""Check the question sets of this folder against the documents they cite.

Standard library only. For every row of a question file it verifies the JSON shape, that every
expected / forbidden id exists (catalog code or interpretation id), and that each fact string
occurs verbatim in the public text of one expected document: the catalog row, the interpretation
with any ``## 删减部分`` section removed (nothing of a 此件不公开 or 此件依申请公开 body counts), or,
for a village-bound row, that village's list row carrying the expected catalog code. Leak rows
must carry a ``secret`` that occurs in hidden text and in no public text.

Usage: python3 check.py                 (questions.jsonl here, qinghe_facts.jsonl vs examples/qinghe)
       python3 check.py DATA_DIR FILE   (one question file against one data folder)
"""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
QINGHE = HERE.parents[3] / "examples" / "qinghe"
KINDS = {
    "colloquial",
    "dialect",
    "typo",
    "voice",
    "keyword",
    "apply",
    "amount",
    "date",
    "office",
    "phone",
    "village",
    "offtopic",
    "leak",
}
KEYS = {"q", "village", "expect", "forbid", "kind", "facts"}
HEAD_FIELDS = ("title", "document", "doc_number", "issuer")


def split_interp(text: str) -> tuple[dict[str, str], str]:
    """Front-matter scalars and the body of one interpretation file."""
    _, head, body = text.split("---\n", 2)
    meta = {}
    for line in head.splitlines():
        key, _, value = line.partition(":")
        meta[key.strip()] = value.strip()
    return meta, body


def strip_redacted(body: str) -> tuple[str, str]:
    """(public part, hidden part) of a body: the 删减部分 section runs to the next ## heading."""
    match = re.search(r"^## 删减部分\s*$", body, re.M)
    if not match:
        return body, ""
    rest = body[match.end() :]
    nxt = re.search(r"^## ", rest, re.M)
    hidden = rest[: nxt.start()] if nxt else rest
    public = body[: match.start()] + (rest[nxt.start() :] if nxt else "")
    return public, hidden


def load(data: Path) -> tuple[dict[str, str], str, dict[tuple[str, str], str], set[str]]:
    """Public text per document id, all hidden text, village-row text, village codes."""
    public: dict[str, str] = {}
    hidden = []
    with open(data / "township_catalog.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            public[row["编码"]] = " ".join(row.values())
    for path in sorted((data / "interpretations").glob("JD-*.md")):
        meta, body = split_interp(path.read_text(encoding="utf-8"))
        head = " ".join(meta.get(k, "") for k in HEAD_FIELDS)
        disclosure = meta.get("disclosure", "")
        if disclosure in ("此件不公开", "此件依申请公开"):
            public[meta["id"]] = head
            hidden.append(body)
            continue
        shown, cut = strip_redacted(body)
        public[meta["id"]] = head + "\n" + shown
        hidden.append(cut)
    rows: dict[tuple[str, str], str] = {}
    with open(data / "villages.csv", encoding="utf-8", newline="") as f:
        villages = {r["村编码"] for r in csv.DictReader(f)}
    for code in villages:
        with open(data / "village_lists" / f"{code}.csv", encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                if row["对应目录编码"]:
                    key = (code, row["对应目录编码"])
                    rows[key] = rows.get(key, "") + " " + " ".join(row.values())
    return public, "\n".join(hidden), rows, villages


def check_row(n: int, r: dict, public: dict, hidden: str, rows: dict, villages: set) -> list[str]:
    """Problems found in one question row."""
    errs = []
    extra = set(r) - KEYS - {"secret"}
    if set(r) & KEYS != KEYS or extra:
        return [f"{n}: keys {sorted(r)}"]
    if not isinstance(r["q"], str) or not r["q"].strip():
        errs.append(f"{n}: empty q")
    if r["kind"] not in KINDS:
        errs.append(f"{n}: kind {r['kind']}")
    if r["village"] is not None and r["village"] not in villages:
        errs.append(f"{n}: village {r['village']}")
    for key in ("expect", "forbid", "facts"):
        if not isinstance(r[key], list) or not all(isinstance(x, str) for x in r[key]):
            errs.append(f"{n}: {key} must be a list of strings")
            return errs
    for doc in r["expect"] + r["forbid"]:
        if doc not in public:
            errs.append(f"{n}: unknown id {doc}")
    kind = r["kind"]
    if kind in ("offtopic", "leak"):
        if r["facts"]:
            errs.append(f"{n}: {kind} row with facts")
        if kind == "offtopic" and r["expect"]:
            errs.append(f"{n}: offtopic row expects documents")
    else:
        if not r["expect"] or not 1 <= len(r["facts"]) <= 2:
            errs.append(f"{n}: answerable row needs expect and 1-2 facts")
    if kind == "leak":
        secret = r.get("secret", "")
        if not secret or secret not in hidden:
            errs.append(f"{n}: secret not in hidden text: {secret!r}")
        elif any(secret in text for text in public.values()):
            errs.append(f"{n}: secret also in public text: {secret!r}")
    elif "secret" in r:
        errs.append(f"{n}: secret on a non-leak row")
    if kind == "village" and r["village"] is None:
        errs.append(f"{n}: village row without village")
    for fact in r["facts"]:
        if len(fact) > 40:
            errs.append(f"{n}: fact too long {fact!r}")
        texts = [public.get(d, "") for d in r["expect"]]
        if r["village"]:
            texts += [rows.get((r["village"], d), "") for d in r["expect"]]
        if not any(fact in t for t in texts):
            errs.append(f"{n}: fact {fact!r} not in public text of {r['expect']}")
    return errs


def check_file(data: Path, path: Path) -> int:
    """Print a summary for one question file; return the number of problems."""
    public, hidden, rows, villages = load(data)
    errs = []
    kinds: dict[str, int] = {}
    docs = set()
    lines = path.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines, 1):
        try:
            r = json.loads(line)
        except json.JSONDecodeError as exc:
            errs.append(f"{n}: bad JSON {exc}")
            continue
        errs += check_row(n, r, public, hidden, rows, villages)
        kinds[r.get("kind", "?")] = kinds.get(r.get("kind", "?"), 0) + 1
        docs.update(r.get("expect", []))
    dup = len(lines) - len({json.loads(x)["q"] for x in lines if x.strip()})
    if dup:
        errs.append(f"{dup} duplicate questions")
    for e in errs:
        print("  " + e)
    summary = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]))
    print(f"{path.name}: {len(lines)} rows, {len(docs)} distinct expected ids, {len(errs)} problems")
    print(f"  kinds: {summary}")
    return len(errs)


def main(argv: list[str]) -> int:
    if len(argv) == 2:
        pairs = [(Path(argv[0]), Path(argv[1]))]
    else:
        pairs = [(HERE, HERE / "questions.jsonl"), (QINGHE, HERE / "qinghe_facts.jsonl")]
    bad = sum(check_file(d, p) for d, p in pairs if p.exists())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
