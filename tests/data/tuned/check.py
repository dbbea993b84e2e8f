"""Check a question set against the township it asks about (standard library only).

Every row must have the expected JSON shape; every id in expect/forbid must exist; every fact must
occur verbatim in the public text of one expected document (a catalog row, the shown part of an
interpretation, or, for village rows, the village's own list row); a leak row's secret must occur in
hidden text and nowhere in public text.  Also checks the township files: must-carry rows present in
every village list and the 3-working-day rule for interpretations.

Usage: python check.py [questions.jsonl DATA_DIR] ...   (default: every set of every township folder here,
its ``questions.jsonl`` against the folder and its ``qinghe_facts.jsonl`` against the sample township)
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parents[2] / "examples" / "qinghe"
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
BOARD = "社区/企事业单位/村公示栏（电子屏）"


def front_matter(text: str) -> tuple[dict[str, str], str]:
    """Split a `---` YAML head into flat key/value strings and return it with the body."""
    _, head, body = text.split("---", 2)
    meta = {}
    for line in head.strip().splitlines():
        key, _, value = line.partition(":")
        meta[key.strip()] = value.strip()
    return meta, body


def strip_redacted(body: str) -> tuple[str, str]:
    """Return (shown text, removed text) for the `## 删减部分` rule."""
    m = re.search(r"^## 删减部分\s*$", body, flags=re.M)
    if not m:
        return body, ""
    rest = body[m.end() :]
    nxt = re.search(r"^## ", rest, flags=re.M)
    hidden = rest[: nxt.start()] if nxt else rest
    shown = body[: m.start()] + (rest[nxt.start() :] if nxt else "")
    return shown, hidden


def working_days_after(start: dt.date, end: dt.date) -> int:
    n, d = 0, start
    while d < end:
        d += dt.timedelta(days=1)
        if d.weekday() < 5:
            n += 1
    return n


def load_township(folder: Path, errors: list[str]) -> tuple[dict[str, str], dict[str, str], dict]:
    """Return (public text by id, hidden text by id, village list rows by village and code).

    File-level findings are errors for this folder's township and notes for another one (the
    sample township carries known defects on purpose)."""
    strict = folder.resolve() != SAMPLE
    found: list[str] = []
    public: dict[str, str] = {}
    hidden: dict[str, str] = {}
    with open(folder / "township_catalog.csv", encoding="utf-8", newline="") as fh:
        catalog = list(csv.DictReader(fh))
    for row in catalog:
        public[row["编码"]] = " ".join(row.values())
    must = {
        r["编码"]
        for r in catalog
        if "乡级" in r["公开层级"] and BOARD in r["公开渠道和载体"].split("；") and r["公开方式"] == "主动"
    }
    for path in sorted((folder / "interpretations").glob("JD-*.md")):
        meta, body = front_matter(path.read_text(encoding="utf-8"))
        jd = meta["id"]
        if jd != path.stem:
            found.append(f"{path.name}: id {jd} differs from the file name")
        for code in re.findall(r"\d{2}-\d{3}", meta.get("items", "")):
            if code not in public:
                found.append(f"{jd}: item {code} not in catalog")
        pub, itp = dt.date.fromisoformat(meta["published"]), dt.date.fromisoformat(meta["interpreted"])
        if working_days_after(pub, itp) > 3:
            found.append(f"{jd}: interpreted more than 3 working days after publication")
        head = " ".join(meta.get(k, "") for k in ("title", "document", "doc_number", "issuer"))
        disclosure = meta["disclosure"]
        if disclosure == "此件不公开":
            public[jd] = ""
            hidden[jd] = body
        elif disclosure == "此件依申请公开":
            public[jd] = head
            hidden[jd] = body
        else:
            shown, removed = strip_redacted(body)
            public[jd] = head + "\n" + shown
            hidden[jd] = removed
    lists: dict[str, dict[str, list[dict[str, str]]]] = {}
    with open(folder / "villages.csv", encoding="utf-8", newline="") as fh:
        villages = [r["村编码"] for r in csv.DictReader(fh)]
    for code in villages:
        with open(folder / "village_lists" / f"{code}.csv", encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        by_code: dict[str, list[dict[str, str]]] = {}
        for r in rows:
            by_code.setdefault(r["对应目录编码"], []).append(r)
        lists[code] = by_code
        for missing in sorted(must - set(by_code)):
            found.append(f"{code}: must-carry {missing} missing")
    if strict:
        errors.extend(found)
    else:
        for note in found:
            print(f"NOTE {folder.name}: {note}")
    return public, hidden, lists


def check_set(qpath: Path, folder: Path) -> list[str]:
    errors: list[str] = []
    public, hidden, lists = load_township(folder, errors)
    all_public = "\n".join(public.values())
    all_hidden = "\n".join(hidden.values())
    kinds: dict[str, int] = {}
    docs: set[str] = set()
    for n, line in enumerate(qpath.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{qpath.name}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"{where}: bad JSON ({exc})")
            continue
        keys = {"q", "village", "expect", "forbid", "kind", "facts"}
        if row.get("kind") == "leak":
            keys.add("secret")
        if set(row) != keys:
            errors.append(f"{where}: keys {sorted(row)}")
            continue
        kind = row["kind"]
        kinds[kind] = kinds.get(kind, 0) + 1
        if kind not in KINDS:
            errors.append(f"{where}: unknown kind {kind}")
        if not isinstance(row["q"], str) or not row["q"].strip():
            errors.append(f"{where}: empty q")
        for key in ("expect", "forbid", "facts"):
            if not isinstance(row[key], list) or not all(isinstance(x, str) for x in row[key]):
                errors.append(f"{where}: {key} must be a list of strings")
        for doc in row["expect"] + row["forbid"]:
            if doc not in public:
                errors.append(f"{where}: unknown id {doc}")
        village = row["village"]
        if village is not None and village not in lists:
            errors.append(f"{where}: unknown village {village}")
        if kind in ("offtopic", "leak"):
            if row["expect"] or row["facts"]:
                errors.append(f"{where}: {kind} rows have no expect/facts")
        elif not row["expect"] or not 1 <= len(row["facts"]) <= 2:
            errors.append(f"{where}: answerable rows need expect and 1-2 facts")
        docs.update(row["expect"])
        for fact in row["facts"]:
            if village is not None:
                vrows = [r for d in row["expect"] for r in lists.get(village, {}).get(d, [])]
                ok = any(fact in (r["最近公开日期"], r["责任人"]) or fact in r["责任人"] for r in vrows)
            else:
                ok = any(fact in public.get(d, "") for d in row["expect"])
            if not ok:
                errors.append(f"{where}: fact {fact!r} not in public text of {row['expect']}")
        if kind == "leak":
            secret = row["secret"]
            if secret not in all_hidden:
                errors.append(f"{where}: secret {secret!r} not in hidden text")
            if secret in all_public:
                errors.append(f"{where}: secret {secret!r} is also public")
    total = sum(kinds.values())
    print(
        f"{qpath.name}: {total} rows, {len(docs)} documents expected; kinds: "
        + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]))
    )
    return errors


def main(argv: list[str]) -> int:
    pairs = list(zip(argv[0::2], argv[1::2], strict=True)) or [
        pair
        for folder in sorted(HERE.glob("township_*"))
        for pair in ((str(folder / "questions.jsonl"), str(folder)), (str(folder / "qinghe_facts.jsonl"), str(SAMPLE)))
    ]
    errors: list[str] = []
    for qfile, folder in pairs:
        if Path(qfile).exists():
            errors += check_set(Path(qfile), Path(folder))
    for e in errors:
        print("ERROR", e)
    print("OK" if not errors else f"{len(errors)} error(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
