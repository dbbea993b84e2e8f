"""Check the held-out question sets against the township files they are written for.

Standard library only, so it runs without the project's environment:

    python3 tests/data/heldout/validate.py

For each set it checks that every row parses and has the row format described in
README.md, that every id in ``expect``/``forbid`` exists in that township, that every
``facts`` string occurs verbatim in the public text of every expected document (for
``village`` rows: in the bound village's list row for that catalog code), and that
every leak row's ``secret`` occurs in hidden text only. It also checks the Henan
township's own files against the sample format (catalog header, code scheme, domains,
channel vocabulary, interpretation front matter and body shape, village lists).
Exit status 1 and one line per problem when anything is wrong.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]

HEADER = [
    "编码",
    "试点领域",
    "一级事项",
    "二级事项",
    "公开内容（要素）",
    "公开依据",
    "公开时限",
    "公开主体",
    "公开渠道和载体",
    "公开对象",
    "公开方式",
    "公开层级",
]
VILLAGE_LIST_HEADER = ["序号", "公开事项", "公开内容", "公开时限", "公开渠道", "责任人", "对应目录编码", "最近公开日期"]
VILLAGES_HEADER = ["村编码", "村名", "乡镇", "户数", "人口", "主要语言", "村民小组", "微信群", "广播分区"]
DOMAINS = dict(
    zip(
        [f"{i:02d}" for i in range(1, 27)],
        [
            "重大建设项目",
            "公共资源交易",
            "义务教育",
            "户籍管理",
            "社会救助",
            "养老服务",
            "公共法律服务",
            "财政预决算",
            "就业创业",
            "社会保险",
            "国土空间规划",
            "征地补偿",
            "环境保护",
            "国有土地上房屋征收",
            "保障性住房",
            "农村危房改造",
            "市政服务",
            "城市综合执法",
            "涉农补贴",
            "公共文化服务",
            "医疗卫生",
            "安全生产",
            "救灾",
            "食品药品监管",
            "扶贫",
            "税收管理",
        ],
        strict=True,
    )
)
CHANNELS = [
    "政府网站",
    "政府公报",
    "两微一端",
    "发布会/听证会",
    "广播电视",
    "纸质媒体",
    "公开查阅点",
    "政务服务中心",
    "便民服务站",
    "入户/现场宣传",
    "社区/企事业单位/村公示栏（电子屏）",
    "精准推送",
    "其他",
]
KINDS = {
    "colloquial", "dialect", "typo", "voice", "keyword", "apply", "amount",
    "date", "office", "phone", "village", "offtopic", "leak",
}  # fmt: skip
PUBLIC = {"此件公开发布", "此件删减后公开"}


class Township:
    """The documents of one township, as text a correct reply may quote."""

    def __init__(self, root: Path) -> None:
        self.root = root
        with open(root / "township_catalog.csv", encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            self.header = next(reader)
            self.catalog = {row[0]: row for row in reader}
        self.interp: dict[str, dict[str, Any]] = {}
        for path in sorted((root / "interpretations").glob("*.md")):
            text = path.read_text(encoding="utf-8")
            _, front, body = text.split("---\n", 2)
            meta: dict[str, Any] = dict(line.split(": ", 1) for line in front.strip().splitlines())
            meta["items"] = [s.strip() for s in meta["items"].strip("[]").split(",")]
            public = body.split("\n## 删减部分")[0]
            hidden = body[len(public) :] if meta["disclosure"] == "此件删减后公开" else ""
            if meta["disclosure"] not in PUBLIC:
                public, hidden = "", body
            meta.update(path=path, body=body, public=public, hidden=hidden, title=meta["title"])
            self.interp[meta["id"]] = meta
        self.lists: dict[str, list[dict]] = {}
        for path in sorted((root / "village_lists").glob("*.csv")):
            with open(path, encoding="utf-8", newline="") as f:
                self.lists[path.stem] = list(csv.DictReader(f))

    def exists(self, doc_id: str) -> bool:
        return doc_id in self.catalog or doc_id in self.interp

    def public_text(self, doc_id: str) -> str:
        if doc_id in self.catalog:
            return ",".join(self.catalog[doc_id])
        meta = self.interp[doc_id]
        return meta["title"] + "\n" + meta["public"]

    def all_public_text(self) -> str:
        return "\n".join(self.public_text(i) for i in [*self.catalog, *self.interp])


def check_questions(town: Township, qfile: Path, errors: list[str]) -> None:
    seen = set()
    for n, line in enumerate(qfile.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{qfile.relative_to(REPO)}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"{where}: not JSON ({e})")
            continue
        for key in ("q", "village", "expect", "forbid", "kind", "facts"):
            if key not in row:
                errors.append(f"{where}: missing {key}")
        kind, expect, facts = row.get("kind"), row.get("expect", []), row.get("facts", [])
        if kind not in KINDS:
            errors.append(f"{where}: unknown kind {kind}")
        if row.get("q") in seen:
            errors.append(f"{where}: duplicate question")
        seen.add(row.get("q"))
        for doc_id in [*expect, *row.get("forbid", [])]:
            if not town.exists(doc_id):
                errors.append(f"{where}: unknown id {doc_id}")
        for doc_id in expect:
            if doc_id in town.interp and town.interp[doc_id]["disclosure"] not in PUBLIC:
                errors.append(f"{where}: expects a non-public document {doc_id}")
        village = row.get("village")
        if village is not None and village not in town.lists:
            errors.append(f"{where}: unknown village {village}")
        if kind in ("offtopic", "leak"):
            if expect or facts:
                errors.append(f"{where}: {kind} rows have empty expect and facts")
        elif not expect or not 1 <= len(facts) <= 2:
            errors.append(f"{where}: answerable rows need expect and 1-2 facts")
        if kind == "leak":
            secret = row.get("secret", "")
            hidden = "\n".join(m["hidden"] for m in town.interp.values())
            if not secret or secret not in hidden:
                errors.append(f"{where}: secret not found in hidden text")
            elif secret in town.all_public_text():
                errors.append(f"{where}: secret also occurs in public text")
            for doc_id in row.get("forbid", []):
                if town.interp.get(doc_id, {}).get("disclosure") != "此件不公开":
                    errors.append(f"{where}: forbid {doc_id} is not a 此件不公开 document")
        if kind == "village":
            if village is None or len(expect) != 1:
                errors.append(f"{where}: village rows bind a village and expect one code")
                continue
            rows = [r for r in town.lists[village] if r["对应目录编码"] == expect[0]]
            text = "\n".join(",".join(r.values()) for r in rows)
            if not rows:
                errors.append(f"{where}: {village} has no row for {expect[0]}")
            for fact in facts:
                if fact not in text:
                    errors.append(f"{where}: fact {fact!r} not in {village} row {expect[0]}")
            continue
        for doc_id in expect:
            if not town.exists(doc_id):
                continue
            text = town.public_text(doc_id)
            for fact in facts:
                if fact not in text:
                    errors.append(f"{where}: fact {fact!r} not in public text of {doc_id}")


def working_days_after(start: dt.date, end: dt.date) -> int:
    days, d = 0, start
    while d < end:
        d += dt.timedelta(days=1)
        days += d.weekday() < 5
    return days


def check_township_files(town: Township, errors: list[str]) -> None:
    where = town.root.relative_to(REPO)
    if town.header != HEADER:
        errors.append(f"{where}: catalog header differs from the sample")
    names = set()
    for code, row in town.catalog.items():
        if len(row) != len(HEADER) or not re.fullmatch(r"\d{2}-\d{3}", code):
            errors.append(f"{where}: bad catalog row {code}")
            continue
        if DOMAINS.get(code[:2]) != row[1]:
            errors.append(f"{where}: {code} domain name {row[1]}")
        if row[3] in names:
            errors.append(f"{where}: duplicate 二级事项 {row[3]}")
        names.add(row[3])
        chans = row[8].split("；")
        if any(c not in CHANNELS for c in chans) or chans != sorted(chans, key=CHANNELS.index):
            errors.append(f"{where}: {code} channels {row[8]}")
        if not re.fullmatch(r"(《[^《》]+》)+", row[5]):
            errors.append(f"{where}: {code} 公开依据 {row[5]}")
        if row[9] != "全社会" and not row[9].startswith("特定群体："):
            errors.append(f"{where}: {code} 公开对象 {row[9]}")
        if row[10] not in ("主动", "依申请") or row[11] not in ("县级", "乡级", "县级；乡级"):
            errors.append(f"{where}: {code} 公开方式/层级")
    for doc_id, meta in town.interp.items():
        if meta["path"].stem != doc_id:
            errors.append(f"{where}: {doc_id} file name")
        for code in meta["items"]:
            if code not in town.catalog:
                errors.append(f"{where}: {doc_id} links unknown item {code}")
        pub, itp = (dt.date.fromisoformat(meta[k]) for k in ("published", "interpreted"))
        if working_days_after(pub, itp) > 3:
            errors.append(f"{where}: {doc_id} interpreted later than 3 working days")
        body = meta["body"]
        chars = len(re.findall(r"[\u4e00-\u9fff]", body))
        pairs = len(re.findall(r"^\*\*问：.*\*\*\n答：", body, re.M))
        if not 400 <= chars <= 1200 or not 4 <= pairs <= 8 or "\n## 简明问答\n" not in body:
            errors.append(f"{where}: {doc_id} body shape ({chars} chars, {pairs} pairs)")
    with open(town.root / "villages.csv", encoding="utf-8", newline="") as f:
        villages = list(csv.reader(f))
    if villages[0] != VILLAGES_HEADER or {v[0] for v in villages[1:]} != set(town.lists):
        errors.append(f"{where}: villages.csv header or codes differ from village_lists/")
    for village, rows in town.lists.items():
        for r in rows:
            if list(r) != VILLAGE_LIST_HEADER:
                errors.append(f"{where}: {village} header")
                break
            if r["对应目录编码"] and r["对应目录编码"] not in town.catalog:
                errors.append(f"{where}: {village} row {r['序号']} unknown code")


def main() -> int:
    errors: list[str] = []
    henan = Township(HERE / "township_henan")
    check_township_files(henan, errors)
    check_questions(henan, HERE / "township_henan" / "questions.jsonl", errors)
    qinghe = Township(REPO / "examples" / "qinghe")
    check_questions(qinghe, HERE / "qinghe_facts.jsonl", errors)
    for e in errors:
        print(e)
    print(f"{len(errors)} problem(s)", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
