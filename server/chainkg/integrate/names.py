"""Name normalisation, shared by entity linking and the reconciliation service.

A name goes through the same folds on both sides of a comparison, so a fold only has to be
symmetric, not linguistically exact:

- NFKC (full-width ＡＢＣ１２３（） -> ABC123()), case folding, punctuation and spaces dropped;
- British -> American spellings (centre/center, -isation/-ization, -our/-or, ...);
- the *core* of a name also drops legal-form suffixes (有限公司, 股份有限公司, 有限责任公司, 集团,
  Co., Ltd., Inc., Group, ...), a leading city name (青岛市, 青岛, Qingdao) and a city in
  parentheses (芯恩(青岛)集成电路); what was dropped is kept as flags, so a matcher can tell a
  group from its Qingdao subsidiary.

grams() cuts a key into the pieces an index holds: character bigrams for Chinese, trigrams
for Latin script.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

CITY_NAMES = ("青岛市", "青岛", "qingdao's", "qingdao")
# Longest first: the loop strips one suffix at a time from the end, until none is left.
ZH_LEGAL = ("股份有限公司", "有限责任公司", "有限公司", "股份公司", "公司")
ZH_GROUP = ("(集团)", "集团")
EN_LEGAL = ("co ltd", "co limited", "company limited", "limited", "ltd", "incorporated", "inc", "corporation",
            "corp", "llc", "plc", "company", "co")
EN_GROUP = ("group",)
# British -> American, applied to each Latin word (both sides of a comparison get the same).
SPELLINGS = {"centre": "center", "centres": "centers", "metre": "meter", "programme": "program",
             "aluminium": "aluminum", "fibre": "fiber", "theatre": "theater", "catalogue": "catalog",
             "tyre": "tire", "tyres": "tires", "grey": "gray"}
_SPELLING_RULES = ((re.compile(r"isation(s?)$"), r"ization\1"), (re.compile(r"(?<=\w{3})is(e|ed|es|ing)$"), r"iz\1"),
                   (re.compile(r"(?<=\w{2})our(s?)$"), r"or\1"))
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[^\W_]+")
_PAREN_CITY = re.compile(r"\((?:" + "|".join(re.escape(c) for c in CITY_NAMES) + r")(?: branch)?\)")
_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "·": " ", "・": " ", "&": " and "})


def is_cjk(text: str) -> bool:
    """True when the text holds a Chinese character (then it is matched against @zh first)."""
    return bool(_CJK.search(text))


def _spell(word: str) -> str:
    if _CJK.search(word):
        return word
    word = SPELLINGS.get(word, word)
    for pattern, repl in _SPELLING_RULES:
        word = pattern.sub(repl, word)
    return word


def fold(text: str) -> str:
    """NFKC, case folded, quotes and separators unified, British spellings made American;
    words separated by one space, Chinese characters kept together."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold()
    text = text.replace("'s ", " ").replace("'", "")
    words = [_spell(w) for w in _WORD.findall(re.sub(r"\(([^()]*)\)", r" ( \1 ) ", text))]
    out = " ".join(words)
    return re.sub(r"(?<=[\u3400-\u9fff]) (?=[\u3400-\u9fff])", "", out)


def key(text: str) -> str:
    """The comparison key of a whole name: fold() without spaces or punctuation."""
    return fold(text).replace(" ", "")


@dataclass(frozen=True)
class Name:
    """A name prepared for matching: `full` (the whole name's key), `core` (without legal form
    and city), and what was dropped from it."""

    text: str
    full: str
    core: str
    legal: bool = False  # a legal form such as 有限公司 / Co., Ltd. was dropped
    group: bool = False  # 集团 / Group was dropped
    city: bool = False  # a leading city name was dropped
    city_paren: bool = False  # a city in parentheses was dropped: 芯恩(青岛)..., a Qingdao company or branch

    @property
    def cjk(self) -> bool:
        return is_cjk(self.text)


def parse(text: str) -> Name:
    """Split a name into its core and the parts a company name carries around it."""
    folded = unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold()
    city_paren = bool(_PAREN_CITY.search(re.sub(r"\s+", " ", folded)))
    work = _PAREN_CITY.sub(" ", re.sub(r"\s+", " ", folded))
    # parentheses around a legal form: "(集团)"
    work = fold(work)
    legal = group = city = False
    changed = True
    while changed and work:
        changed = False
        compact = work.replace(" ", "")
        for suffix in ZH_GROUP + ZH_LEGAL:
            s = suffix.replace("(", "").replace(")", "")
            if compact.endswith(s) and len(compact) > len(s) and not compact.endswith("分" + s):
                work = _drop_tail(work, s)
                group, legal = group or suffix in ZH_GROUP, legal or suffix in ZH_LEGAL
                changed = True
                break
        if changed:
            continue
        for suffix in EN_GROUP + EN_LEGAL:
            if work.endswith(" " + suffix):
                work = work[: -len(suffix) - 1].rstrip()
                group, legal = group or suffix in EN_GROUP, legal or suffix in EN_LEGAL
                changed = True
                break
    for c in CITY_NAMES:
        rest = work[len(c):].lstrip()
        if work.startswith(c) and len(rest.replace(" ", "")) >= 2 and (is_cjk(c) or work[len(c):len(c) + 1] == " "):
            work, city = rest, True
            break
    core = work.replace(" ", "")
    full = key(text)
    if not core:
        core, legal, group, city = full, False, False, False
    return Name(text=text, full=full, core=core, legal=legal, group=group, city=city, city_paren=city_paren)


def _drop_tail(work: str, suffix: str) -> str:
    """Drop a Chinese suffix from a folded text whose spacing may differ from the suffix's."""
    n = len(suffix)
    i = len(work)
    while n and i:
        i -= 1
        if work[i] != " ":
            n -= 1
    return work[:i].rstrip()


def core(text: str) -> str:
    return parse(text).core


def grams(k: str) -> set[str]:
    """The index pieces of a key: bigrams where it is Chinese, padded trigrams where it is Latin
    (a one-character Chinese key is its own piece)."""
    if not k:
        return set()
    if _CJK.search(k):
        return {k[i:i + 2] for i in range(len(k) - 1)} or {k}
    padded = f"^{k}$"
    return {padded[i:i + 3] for i in range(len(padded) - 2)}


def tokens(text: str) -> list[str]:
    """Words of a name (Latin words, runs of Chinese characters), folded."""
    return fold(text).split()
