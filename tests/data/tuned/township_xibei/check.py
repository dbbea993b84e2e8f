"""Check a question set against the township documents it is written for.

Verifies the JSON shape of every row, that expected and forbidden ids exist, that each fact occurs
verbatim in the public text of one expected document (never in a 删减部分 section or a 此件不公开
body), that leak secrets occur only in hidden text, and the interpretation format rules (the
3-working-day rule only for this folder: the sample township is late on purpose).
Standard library only.

Usage: python check.py [QUESTIONS.jsonl DATA_DIR] ...  (default: this folder's two sets)
"""

import csv
import datetime
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
KEYS = {"q", "village", "expect", "forbid", "kind", "facts"}


def parse_interp(path):
    """Return (head dict, public text, hidden text) for one interpretation file."""
    text = path.read_text(encoding="utf-8")
    m = re.match(r"---\n(.*?)\n---\n(.*)", text, re.S)
    if not m:
        raise ValueError(f"{path.name}: no front matter")
    head = {}
    for line in m.group(1).splitlines():
        k, _, v = line.partition(":")
        head[k.strip()] = v.strip()
    body = m.group(2)
    disclosure = head.get("disclosure")
    meta = "\n".join(head.get(k, "") for k in ("title", "document", "doc_number", "issuer"))
    if disclosure == "此件不公开":
        return head, head.get("title", ""), body
    if disclosure == "此件依申请公开":
        return head, meta, body
    hidden = ""
    if disclosure == "此件删减后公开":
        parts = re.split(r"(?m)^(?=## )", body)
        keep = [p for p in parts if not p.startswith("## 删减部分")]
        hidden = "".join(p for p in parts if p.startswith("## 删减部分"))
        body = "".join(keep)
    return head, m.group(1) + "\n" + body, hidden


def working_days_after(start, end):
    n, d = 0, start
    while d < end:
        d += datetime.timedelta(days=1)
        if d.weekday() < 5:
            n += 1
    return n


def load(data):
    """Return (public texts by id, hidden texts, village rows, problems)."""
    problems, public, hidden, vrows = [], {}, [], {}
    with open(data / "township_catalog.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            public[row["编码"]] = " ".join(row.values())
    for p in sorted((data / "interpretations").glob("JD-*.md")):
        head, pub, hid = parse_interp(p)
        if head.get("id") != p.stem:
            problems.append(f"{p.name}: id mismatch")
        items = re.findall(r"\d{2}-\d{3}", head.get("items", ""))
        problems += [f"{p.name}: unknown item {i}" for i in items if i not in public]
        body = p.read_text(encoding="utf-8").split("\n---\n", 1)[1]
        han = len(re.findall(r"[\u4e00-\u9fff]", body))
        if not 400 <= han <= 1200:
            problems.append(f"{p.name}: body has {han} Chinese characters")
        if body.count("**问：") != body.count("\n答：") or not 4 <= body.count("**问：") <= 8:
            problems.append(f"{p.name}: Q&A pairs malformed")
        pubd = datetime.date.fromisoformat(head["published"])
        intd = datetime.date.fromisoformat(head["interpreted"])
        if working_days_after(pubd, intd) > 3 and data.resolve() == HERE:
            problems.append(f"{p.name}: interpreted late")
        public[p.stem] = pub
        if hid:
            hidden.append(hid)
    for p in sorted((data / "village_lists").glob("*.csv")):
        with open(p, encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                if row["对应目录编码"]:
                    vrows[(p.stem, row["对应目录编码"])] = " ".join(row.values())
    return public, hidden, vrows, problems


def check(qfile, data):
    public, hidden, vrows, problems = load(data)
    villages = {c for c, _ in vrows}
    seen, docs = set(), set()
    for n, line in enumerate(qfile.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{qfile.name}:{n}"
        try:
            r = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"{where}: bad JSON {e}")
            continue
        extra = set(r) - KEYS - {"secret"}
        if not set(r) >= KEYS or extra:
            problems.append(f"{where}: keys {sorted(r)}")
            continue
        if r["kind"] not in KINDS:
            problems.append(f"{where}: kind {r['kind']}")
        if r["q"] in seen:
            problems.append(f"{where}: duplicate question")
        seen.add(r["q"])
        for i in r["expect"] + r["forbid"]:
            if i not in public:
                problems.append(f"{where}: unknown id {i}")
        docs.update(r["expect"])
        kind, facts, v = r["kind"], r["facts"], r["village"]
        if kind in ("offtopic", "leak"):
            if r["expect"] or facts:
                problems.append(f"{where}: {kind} row must have empty expect and facts")
        elif not r["expect"] or not 1 <= len(facts) <= 2:
            problems.append(f"{where}: answerable row needs expect and 1-2 facts")
        if v is not None and v not in villages:
            problems.append(f"{where}: unknown village {v}")
        if (kind == "village") != (v is not None):
            problems.append(f"{where}: village kind and village field disagree")
        for fact in facts:
            if v is not None:
                texts = [vrows.get((v, i), "") for i in r["expect"]]
            else:
                texts = [public.get(i, "") for i in r["expect"]]
            if not any(fact in t for t in texts):
                problems.append(f"{where}: fact {fact!r} not in public text of {r['expect']}")
            if any(fact in h for h in hidden) and not any(fact in t for t in texts):
                problems.append(f"{where}: fact {fact!r} only in hidden text")
        if kind == "leak":
            s = r.get("secret", "")
            hid_all = hidden + [
                p.read_text(encoding="utf-8")
                for p in (data / "interpretations").glob("*.md")
                if parse_interp(p)[0].get("disclosure") in ("此件不公开", "此件依申请公开")
            ]
            if not s or not any(s in h for h in hid_all):
                problems.append(f"{where}: secret missing or not in hidden text")
            if s and any(s in t for t in public.values()):
                problems.append(f"{where}: secret also appears in public text")
        elif "secret" in r:
            problems.append(f"{where}: secret on a non-leak row")
    return seen, docs, problems


def main(argv):
    pairs = list(zip(argv[0::2], argv[1::2], strict=False)) or [
        (HERE / "questions.jsonl", HERE),
        (HERE / "qinghe_facts.jsonl", Path("/work/main/examples/qinghe")),
    ]
    bad = 0
    for qf, data in pairs:
        qf, data = Path(qf), Path(data)
        if not qf.exists():
            print(f"{qf.name}: missing")
            bad += 1
            continue
        rows = [json.loads(x) for x in qf.read_text(encoding="utf-8").splitlines() if x.strip()]
        _seen, docs, problems = check(qf, data)
        kinds = {}
        for r in rows:
            kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
        print(f"{qf.name}: {len(rows)} rows, {len(docs)} expected documents, kinds {kinds}")
        for p in problems:
            print("  " + p)
        print(f"  {'OK' if not problems else str(len(problems)) + ' problem(s)'}")
        bad += len(problems)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
