"""Check questions.jsonl against this folder's documents (standard library only).

Every row must have the right JSON shape, its ids must exist, and each fact must occur verbatim in the
public text of one expected document: a catalog row's fields, an interpretation's body without its
`## 删减部分` section (never a `此件不公开` body), or the bound village's list row for the code.
Leak rows must carry a secret that does occur in hidden text.
"""

import csv
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
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


def load():
    catalog = {}
    with open(HERE / "township_catalog.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            catalog[row["编码"]] = "\n".join(row.values())
    public, hidden, secret_docs = {}, {}, set()
    for path in sorted((HERE / "interpretations").glob("JD-*.md")):
        text = path.read_text(encoding="utf-8")
        _, head, body = text.split("---", 2)
        meta = dict(line.split(": ", 1) for line in head.strip().splitlines())
        assert meta["id"] == path.stem, path
        parts = re.split(r"(?m)^## 删减部分\s*$", body, maxsplit=1)
        shown = parts[0]
        cut = parts[1] if len(parts) > 1 else ""
        if meta["disclosure"] == "此件不公开":
            secret_docs.add(meta["id"])
            public[meta["id"]] = ""
            hidden[meta["id"]] = body
        else:
            public[meta["id"]] = meta["title"] + "\n" + shown
            hidden[meta["id"]] = cut
    lists = {}
    for path in sorted((HERE / "village_lists").glob("*.csv")):
        with open(path, encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                if row["对应目录编码"]:
                    lists[(path.stem, row["对应目录编码"])] = "\n".join(row.values())
    return catalog, public, hidden, secret_docs, lists


def main() -> int:
    catalog, public, hidden, secret_docs, lists = load()
    errors = []
    with open(HERE / "questions.jsonl", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    keys = {"q", "village", "expect", "forbid", "kind", "facts"}
    for n, row in enumerate(rows, 1):

        def err(msg, n=n):
            errors.append(f"row {n}: {msg}")

        if not keys <= set(row) or set(row) - keys - {"secret"}:
            err(f"bad keys {sorted(row)}")
            continue
        if row["kind"] not in KINDS:
            err(f"bad kind {row['kind']}")
        if not isinstance(row["q"], str) or not row["q"].strip():
            err("empty q")
        for i in row["expect"] + row["forbid"]:
            if i not in catalog and i not in public:
                err(f"unknown id {i}")
        if any(i in secret_docs for i in row["expect"]):
            err("expects a 此件不公开 document")
        if row["kind"] in ("offtopic", "leak"):
            if row["expect"] or row["facts"]:
                err("offtopic/leak rows must have empty expect and facts")
            if row["kind"] == "leak":
                s = row.get("secret", "")
                if not s or not any(s in h for h in hidden.values()):
                    err(f"secret not in hidden text: {s!r}")
                if any(s in p for p in public.values()):
                    err(f"secret also in public text: {s!r}")
            continue
        if not row["expect"] or not 1 <= len(row["facts"]) <= 2:
            err("answerable rows need expect and 1-2 facts")
        if row["kind"] == "village":
            v = row["village"]
            for fact in row["facts"]:
                if not any(fact in lists.get((v, c), "") for c in row["expect"]):
                    err(f"fact {fact!r} not in {v} list row {row['expect']}")
            continue
        if row["village"] is not None:
            err("only village rows are bound to a village")
        for fact in row["facts"]:
            if not any(fact in (catalog.get(i) or public.get(i, "")) for i in row["expect"]):
                err(f"fact {fact!r} not in public text of {row['expect']}")
    kinds = {}
    for row in rows:
        kinds[row["kind"]] = kinds.get(row["kind"], 0) + 1
    docs = {i for row in rows for i in row["expect"]}
    print(f"{len(rows)} rows; kinds {dict(sorted(kinds.items()))}; documents expected {len(docs)}")
    for e in errors:
        print(e)
    print("OK" if not errors else f"{len(errors)} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
