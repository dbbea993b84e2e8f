"""A villager's question, analysed: normalised, pinyin spelled out, rewritten with the lexicon,
homophones repaired, cut into weighted content words for the rerank features.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import jieba

from content.matcher import tunables as T
from content.matcher.datafile import cell_words, read_tsv
from content.matcher.facets import Facet, asking_words, facets
from content.matcher.homophones import PinyinIndex
from content.matcher.index import Index
from content.matcher.lexicon import Lexicon, Match
from content.matcher.normalize import bigrams, char_tokens, dialect_words, normalize, normalize_plain

# Function and question words: they say nothing about which matter is asked about.
_STOP_TEXT = """
    的 了 吗 呢 啊 呀 吧 么 嘛 哦 噢 啦 哈 是 有 没 没有 在 我 你 您 他 她 它
    我们 你们 他们 咱 咱们 我家 自己 家里 请问 想问 问问 问一下 一下 一点 怎么 怎么样
    怎样 咋 咋个 咋办 咋样 如何 什么 啥 啥子 哪 哪里 哪儿 哪点 哪个 哪些 哪家 几 多少
    多久 多长 能 能不能 可以 可不可以 要 要不要 需要 是不是 有没有 会不会 得不得 啊是 还
    也 都 就 和 跟 与 及 或 或者 还是 不 不是 给 把 被 让 对 向 从 到 这 那 这些
    那些 这种 那种 这样 那样 现在 今年 去年 明年 时候 以后 之前 已经 一直 听说 知道 晓得
    一个 每个 个 里 上 下 又 再 才 很 太 最 更 吃 拿 想 去 来 说 看 找 办 做 弄 搞 人
    事 东西 情况 一些 有些 些 多 少 能否 是否 吗 吗啊 哪样 么样 咋整 得 着 过 地 时
    后 前 中 内 外 些个 一般 到底 究竟 大概 大约 左右 以上 以下 请 帮 帮忙
    啥时候 什么时候 哪阵 哪天 几号 几点 每天 每年 每月 几天 几个月 半个 半个月 半年 一步 哪一步
    有没有 能不能 会不会 是不是 要不要 行不行 对吧 对不对 好不好 一下子 一直 还要 还能 之后
    不能 不会 不要 不用 不了 不知 不敢 不到 有点 总是 真的 就是 但是 因为 为了 其中 当时 后来
    最后 觉得 看到 看见 看看 拿来 起来 出去 进来 进去 回来 另外 除了 要是 不管 别人 人家 大家
    一起 真正 直接 才能 只能 应该 可能 能够 还有 还是 这个 那个 一声 问题 有问题
    里头 里面 里边 有无 为止
    咧 撒 噻 嘞 哩 喃 咯 哟 啰
"""
# Where the villager is: context, not the matter asked about (they weigh little in coverage).
_CONTEXT_TEXT = "村里 村上 镇上 镇里 县里 县上 乡里 城里 县城 家里 我们村 本村 咱村 全镇 全县 这边 那边 这里 那里"
CONTEXT_WORDS = frozenset(_CONTEXT_TEXT.split())
# Characters that are only grammar (是, 从, 就…); 地, 里, 上 also make words (地里, 村上).
_FUNCTION_CHARS = frozenset("是从就都也还又再才把被让对向和跟与及或得着过了的吗呢嘛啊吧")
# A numeral and a measure word (两样, 三回, 几户): how many, not of what.
_HAN_NUMERALS = "一二两三四五六七八九十百千万几半"
NUMERALS = frozenset("0123456789" + _HAN_NUMERALS)  # what a quantity starts with
_QUANTITY = re.compile(f"^[{_HAN_NUMERALS}][个样次回户家人天年月条块头只项种台套间笔根张件把辆座棵株匹双本份趟顿]$")


def _grammar(word: str) -> bool:
    """A word of function characters only (是从, 就得) or a bare quantity (两样): no matter of its own."""
    return bool(_QUANTITY.match(word)) or (len(word) > 1 and all(ch in _FUNCTION_CHARS for ch in word))


STOPWORDS = frozenset(_STOP_TEXT.split())
# A question about whether and where something is published: prefer catalog items and village rows.
DISCLOSURE_WORDS = (
    "公示",
    "公开",
    "公布",
    "名单",
    "贴出",
    "张贴",
    "哪里看",
    "在哪看",
    "哪点看",
    "看得到",
    "哪里查",
    "在哪查",
    "公告",
    "发了没",
    "出来没",
    "结果",
    "宣传",
    "通知",
    "哪些人",
    "哪些户",
    "哪几户",
    "哪几家",
    "哪家",
    "给了谁",
    "发给谁",
    "打给谁",
    "发给了",
    "选上",
    "评上",
    "一共",
    "用到哪",
)
# "Which company, bank, hospital": the body that does it, not a published list (哪家 as which household)
_WHICH_BODY = re.compile("哪(家|个)(保险公司|公司|银行|医院|单位|机构|部门|学校|企业|合作社)")
INTENTS_PATH = Path(__file__).resolve().parent.parent / "data" / "intents.tsv"
OFFTOPIC = "offtopic"
INTERNAL = "internal"
# Our village, or its latest disclosure: a bound villager's own list rows come first when they match.
VILLAGE_WORDS = ("我们村", "村里", "本村", "咱村", "我村", "咱们村", "村上", "上回", "上次", "最近一次")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Intent:
    """A kind of question (complaint, roster, amount, how to apply…) and the items that fit it."""

    name: str
    weight: float
    cues: tuple[str, ...]  # in the question
    item_cues: tuple[str, ...]  # in an item's name, group, elements (or an interpretation's Q&A)
    prefer: str  # catalog / interpretation / ""


@dataclass(frozen=True)
class Intents:
    version: str
    intents: tuple[Intent, ...]

    @classmethod
    def parse(cls, text: str) -> Intents:
        out: list[Intent] = []
        version, rows = read_tsv(text)
        for lineno, parts in rows:
            if len(parts) != 5:
                raise ValueError(f"intents line {lineno}: expected 5 tab-separated columns")
            name, weight, cues, item_cues, prefer = parts

            prefer_intent = "" if prefer == "-" else prefer
            out.append(Intent(name, float(weight), cell_words(cues), cell_words(item_cues), prefer_intent))
        if not version:
            raise ValueError("intents table has no '# version:' header line")
        return cls(version, tuple(out))

    @classmethod
    def load(cls, path: Path = INTENTS_PATH) -> Intents:
        return cls.parse(path.read_text(encoding="utf-8"))

    def classify(self, text: str) -> tuple[Intent, ...]:
        """The intents one of whose cues the text has, in table order."""
        return tuple(
            i for i, pattern in zip(self.intents, self._cue_patterns, strict=True) if pattern and pattern.search(text)
        )

    @cached_property
    def _cue_patterns(self) -> tuple[re.Pattern[str] | None, ...]:
        """One search per intent: a text has one of its cues exactly when the alternation of them matches."""
        return tuple(re.compile("|".join(map(re.escape, i.cues))) if i.cues else None for i in self.intents)


def asks_disclosure(text: str) -> bool:
    """The question asks whether or where something is published, or for a published list (哪家 as
    which household, not which company)."""
    return any(w in _WHICH_BODY.sub("", text) for w in DISCLOSURE_WORDS)


@lru_cache(maxsize=1)
def intents() -> Intents:
    return Intents.load()


@dataclass(frozen=True)
class Unit:
    """A content word of the question; covered by a doc when one of its alternatives is."""

    word: str
    weight: float
    alts: tuple[frozenset[str], ...]
    known: bool = True  # some doc of the index has one of its bigrams


@dataclass(frozen=True)
class Query:
    raw: str
    normalized: str
    text: str  # normalised, pinyin letters spelled out as words
    added: tuple[str, ...]  # canonical terms and repaired homophones brought in
    units: tuple[Unit, ...]
    bigrams: frozenset[str]  # of text and added words
    tokens: tuple[str, ...]  # BM25 tokens
    disclosure: bool  # asks whether/where something is published
    village: bool  # asks about "our village"
    intents: tuple[Intent, ...] = ()
    concepts: tuple[tuple[str, tuple[str, ...]], ...] = ()  # lexicon terms found, with their canonical terms
    facets: tuple[Facet, ...] = ()  # what is asked about the matter (amount, date, how to apply…)
    gram_idf: dict[str, float] = field(default_factory=dict, compare=False)  # IDF of each of ``bigrams``

    @property
    def offtopic(self) -> bool:
        return any(i.name == OFFTOPIC for i in self.intents)

    @property
    def offtopic_cues(self) -> tuple[str, ...]:
        """The off-topic intent's cue words the question uses (shopping, games, weather…)."""
        return tuple(c for i in self.intents if i.name == OFFTOPIC for c in i.cues if c in self.text)

    @property
    def internal_words(self) -> tuple[str, ...]:
        """Words about the government's internal work the question uses (must be in the answer doc)."""
        return tuple(c for i in self.intents if i.name == INTERNAL for c in i.cues if c in self.text)

    @property
    def expanded(self) -> str:
        return " ".join((self.text, *self.added))


@lru_cache(maxsize=1)
def base_tokenizer() -> jieba.Tokenizer:
    """jieba's general dictionary, loaded once per process and never changed (read-only)."""
    jieba.setLogLevel(logging.WARNING)
    tk = jieba.Tokenizer()
    tk.initialize()
    return tk


def own_tokenizer() -> jieba.Tokenizer:
    """A tokenizer of one's own, copied from the pristine base: words one analyser adds are seen by
    no other (a second matcher built in the same process answers exactly as the first)."""
    base = base_tokenizer()
    tk = jieba.Tokenizer()
    tk.FREQ = dict(base.FREQ)
    tk.total = base.total
    tk.initialized = True
    return tk


class Analyzer:
    """Turns raw questions into ``Query`` objects for one index."""

    def __init__(self, index: Index, lexicon: Lexicon, pinyin: PinyinIndex) -> None:
        self.index = index
        self.lexicon = lexicon
        self.pinyin = pinyin
        self.tokenizer = own_tokenizer()
        self._added: set[str] = set()
        for word in sorted(lexicon.vocabulary() | pinyin.words):
            if " " in word:
                continue
            if self.tokenizer.FREQ.get(word, 0) <= 0:
                self._added.add(word)
            self.tokenizer.add_word(word, 2000)
        self._max_idf = index.idf("\x00never")

    def known_word(self, word: str) -> bool:
        """A word of the general dictionary (so not a typo to repair)."""
        return word not in self._added and self.tokenizer.FREQ.get(word, 0) > 50

    def _cut(self, text: str) -> list[str]:
        return list(self.tokenizer.lcut(text, HMM=False))

    def _cutter(self) -> Callable[[str], list[str]]:
        """``_cut``, remembering its cuts: one question's text is often cut twice (repair, then units)."""
        cuts: dict[str, list[str]] = {}

        def cut(text: str) -> list[str]:
            got = cuts.get(text)
            if got is None:
                got = cuts[text] = self._cut(text)
            return got

        return cut

    def analyze(self, raw: str) -> Query:
        normalized = normalize(raw)
        spelled = self.pinyin.spell_out(normalized)
        cut = self._cutter()
        text, repaired = self.pinyin.apply(spelled, self.known_word, cut)
        matches = self.lexicon.find(text)
        added: list[str] = list(repaired)
        for w in self.lexicon.rewrite(text, matches):
            if w not in added:
                added.append(w)
        # the dialect words the rewrite replaced stay as alternatives: a township may write them too
        rewritten = [(d, s) for d, s in dialect_words(normalize_plain(raw)) if len(d) >= 2 and d not in text]
        added += [d for d, _ in rewritten if d not in added]
        units = self._units(text, matches, cut, rewritten)
        qbig = set(bigrams(text)) | bigrams(spelled)
        tokens = list(char_tokens(text))
        for w in added:
            qbig |= bigrams(w)
            tokens.extend(char_tokens(w))
        return Query(
            raw=raw,
            normalized=normalized,
            text=text,
            added=tuple(added),
            units=tuple(units),
            bigrams=frozenset(qbig),
            gram_idf={g: self.index.idf(g) for g in qbig},
            tokens=tuple(tokens),
            disclosure=asks_disclosure(text),
            village=any(w in text for w in VILLAGE_WORDS),
            intents=intents().classify(text),
            concepts=tuple((m.term, m.canonical) for m in matches),
            facets=facets().classify(normalized + " " + text),
        )

    def _units(
        self,
        text: str,
        matches: list[Match],
        cut: Callable[[str], list[str]] | None = None,
        rewritten: Sequence[tuple[str, str]] = (),
    ) -> list[Unit]:
        """The question's content words, each with its alternatives: lexicon canonical terms, and the
        villager's own dialect word where a rewrite replaced it (a township may write 苞谷 too)."""
        cut = cut or self._cut
        words = [w for seg in text.split(" ") for w in cut(seg)]
        lex = {m.term: m.canonical for m in matches}
        units: list[Unit] = []
        for n, word in enumerate(words):
            if word in STOPWORDS or not word.strip():
                continue
            if word == "个人" and n and words[n - 1].isdigit():
                continue  # 1个人: a measure word and 人 (per person), not 个人 (personal)
            if not _HAN.search(word) and word not in self.index.vocab:
                continue  # English or stray letters the catalog never uses
            alts: list[frozenset[str]] = [frozenset(bigrams(word))]
            for term, canon in lex.items():
                if term in word or word in term:
                    alts.extend(frozenset(bigrams(c)) for c in canon)
            alts.extend(frozenset(bigrams(d)) for d, std in rewritten if std in word or word in std)
            toks = alts[0]
            if len(word) == 1:
                weight = T.SINGLE_CHAR_WEIGHT * self.index.idf(word)
            else:
                weight = sum(self.index.idf(b) for b in toks) / max(1, len(toks))
            if word in CONTEXT_WORDS:
                weight *= T.CONTEXT_WEIGHT
            vocab = self.index.vocab
            known = any(b in vocab for alt in alts for b in alt)
            if not known and (any(c in word for c in asking_words()) or _grammar(word)):
                continue  # a question word no document has (几月份), a quantity (两样) or grammar (是从)
            units.append(Unit(word, weight, tuple(alts), known))
        return units
