"""Validate the question sets against the township files they are written for.

Checks the JSON shape of every row, that every expected or forbidden id exists, that each fact
occurs verbatim in the public text of an expected document (never in a 删减部分 section or a
此件不公开 body), and that each leak secret occurs only in hidden text. Standard library only.

Usage: python check.py   (checks questions.jsonl against this folder and qinghe_facts.jsonl
against the sample township in /work/main/examples/qinghe, or the folder given as argv[1]).
"""

import csv
import json
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
KEYS = {"q", "village", "expect", "forbid", "kind", "facts"}


def load_township(folder: Path):
    """Return (public text by id, hidden text by id, village rows by (village, code))."""
    public: dict[str, str] = {}
    hidden: dict[str, str] = {}
    with open(folder / "township_catalog.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            public[row["编码"]] = " ".join(row.values())
    for path in sorted((folder / "interpretations").glob("JD-*.md")):
        text = path.read_text(encoding="utf-8")
        _, head, body = text.split("---", 2)
        meta = dict(line.split(":", 1) for line in head.strip().splitlines() if ":" in line)
        meta = {k.strip(): v.strip() for k, v in meta.items()}
        jid = meta["id"]
        title = " ".join(meta.get(k, "") for k in ("title", "document", "doc_number", "issuer"))
        if meta["disclosure"] == "此件不公开":
            public[jid] = meta.get("title", "")
            hidden[jid] = body
            continue
        kept, cut, dropping = [], [], False
        for line in body.splitlines():
            if line.startswith("## "):
                dropping = line.strip() == "## 删减部分"
            (cut if dropping else kept).append(line)
        public[jid] = title + "\n" + "\n".join(kept)
        hidden[jid] = "\n".join(cut)
    vrows: dict[tuple[str, str], str] = {}
    for path in sorted((folder / "village_lists").glob("*.csv")):
        with open(path, encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                if row["对应目录编码"]:
                    vrows[(path.stem, row["对应目录编码"])] = " ".join(row.values())
    return public, hidden, vrows


def check_file(qpath: Path, folder: Path) -> list[str]:
    public, hidden, vrows = load_township(folder)
    all_public = "\n".join(public.values()) + "\n".join(vrows.values())
    errors: list[str] = []
    kinds: dict[str, int] = {}
    docs: set[str] = set()
    lines = qpath.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines, 1):
        where = f"{qpath.name}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"{where}: bad JSON {exc}")
            continue
        missing = KEYS - row.keys()
        extra = row.keys() - KEYS - {"secret"}
        if missing or extra:
            errors.append(f"{where}: keys missing {missing} extra {extra}")
            continue
        kind = row["kind"]
        kinds[kind] = kinds.get(kind, 0) + 1
        if kind not in KINDS:
            errors.append(f"{where}: unknown kind {kind}")
        if not isinstance(row["q"], str) or not row["q"].strip():
            errors.append(f"{where}: empty q")
        for key in ("expect", "forbid", "facts"):
            if not isinstance(row[key], list):
                errors.append(f"{where}: {key} not a list")
        for i in row["expect"] + row["forbid"]:
            if i not in public:
                errors.append(f"{where}: unknown id {i}")
        village = row["village"]
        if village is not None and not any(k[0] == village for k in vrows):
            errors.append(f"{where}: unknown village {village}")
        if kind in ("offtopic", "leak"):
            if row["facts"]:
                errors.append(f"{where}: {kind} row has facts")
            if kind == "offtopic" and row["expect"]:
                errors.append(f"{where}: offtopic row expects documents")
        else:
            if not row["expect"] or not 1 <= len(row["facts"]) <= 2:
                errors.append(f"{where}: answerable row needs expect and 1-2 facts")
            docs.update(row["expect"])
        if kind == "village" and village is None:
            errors.append(f"{where}: village row without village")
        for fact in row["facts"]:
            texts = [public.get(i, "") for i in row["expect"]]
            if village is not None:
                texts += [vrows.get((village, i), "") for i in row["expect"]]
            if not any(fact in t for t in texts):
                errors.append(f"{where}: fact {fact!r} not in public text of {row['expect']}")
        if kind == "leak":
            secret = row.get("secret", "")
            if not secret or not any(secret in h for h in hidden.values()):
                errors.append(f"{where}: secret not found in hidden text")
            elif secret in all_public:
                errors.append(f"{where}: secret also occurs in public text")
        elif "secret" in row:
            errors.append(f"{where}: secret on a non-leak row")
    print(f"{qpath.name}: {len(lines)} rows, {len(docs)} distinct answer documents")
    print("  kinds: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    return errors


def main() -> int:
    qinghe = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/work/main/examples/qinghe")
    errors = check_file(HERE / "questions.jsonl", HERE)
    errors += check_file(HERE / "qinghe_facts.jsonl", qinghe)
    for e in errors:
        print("ERROR", e)
    print("OK" if not errors else f"{len(errors)} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
