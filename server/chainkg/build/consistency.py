"""Claim consistency: a figure agrees with its own words, and its words with the claim's quote.

A quantity keeps its original wording (`ck:originalWording "1351.4亿元"`) next to the value a
maintainer normalised by hand (`ck:value 135140000000.0`, `ck:hasUnit ck:Yuan`). Nothing else ties
the two together, so a slip (a value ten times too small, a wording the article never wrote)
would pass SHACL, the reasoner and the evidence test. This module checks, for every quantity of
every claim:

- **wording**: the original wording appears in the claim's evidence quote (whitespace aside);
- **value**: the number the wording says (Chinese and English figures: 亿, 万, 千, 百, ‰, %,
  "1.5亿", "1351.4亿元", "450,000", "over 300 billion", Chinese numerals such as 两种 or 千亿级,
  English number words, ranges such as "1000 - 1200 chips") equals `ck:value` (and, for a
  range, `ck:maxValue`);
- **unit**: the unit word of the wording (元, %, 平方米, 辆, GWh, 家/个/项 ...) is compatible with
  `ck:hasUnit`;
- **qualifier**: the hedge words (超过, 以上, 余, 多, 突破, 约, 近, 不到, 不少于, 上千, 级, over,
  about, less than, at least ...) agree with `ck:hasQualifier` ("千亿级" is ck:OrderOfMagnitude, whose
  ck:maxValue is ten times its value; "不到" may carry ck:maxValue equal to its value).

`parse_figure(text)` is the parser; `check_figure(...)` checks one quantity; `check_inputs(inputs)`
(the loaded files) and `check_dataset(ds)` (a frozen dataset) check them all. Each disagreement
names the claim, the quantity, its wording, the quote and what differs. `python -m
chainkg.build.consistency [ROOT]` prints them (exit 1 when there are any).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from chainkg.config import BASE_IRI

CK = BASE_IRI + "ontology#"
CLAIM_NS = BASE_IRI + "claim/"
PROVENANCE_GRAPH = BASE_IRI + "graph/provenance"

# -- the parser -----------------------------------------------------------------------------------
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_SMALL = {"十": 10, "百": 100, "千": 1000}
_CN_LARGE = {"万": 10_000, "亿": 100_000_000}
_CN_NUMERAL = "零〇一二两三四五六七八九十百千万亿"

_EN_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "hundred": 100,
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "dozen": 12,
}
_EN_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}

# Qualifier words, most specific first ("不少于" before "少于", "at least" before "least").
QUALIFIER_WORDS: tuple[tuple[str, str], ...] = (
    ("不少于", "AtLeast"), ("至少", "AtLeast"), ("不低于", "AtLeast"), ("at least", "AtLeast"), ("no less than", "AtLeast"),
    ("不到", "LessThan"), ("不足", "LessThan"), ("少于", "LessThan"), ("低于", "LessThan"), ("less than", "LessThan"),
    ("fewer than", "LessThan"), ("under", "LessThan"), ("below", "LessThan"),
    ("超过", "Over"), ("以上", "Over"), ("突破", "Over"), ("逾", "Over"), ("超", "Over"), ("过", "Over"),
    ("more than", "Over"), ("over", "Over"), ("exceeding", "Over"), ("exceeded", "Over"), ("exceeds", "Over"),
    ("exceed", "Over"), ("above", "Over"), ("upwards of", "Over"),
    ("约", "About"), ("左右", "About"), ("大约", "About"), ("近", "About"), ("about", "About"), ("around", "About"),
    ("nearly", "About"), ("approximately", "About"), ("roughly", "About"), ("some", "About"),
)

# Unit words: (word, allowed ck: units, factor to the normalised unit). Longest first.
UNIT_WORDS: tuple[tuple[str, frozenset, int], ...] = tuple(sorted((
    ("亿元", frozenset({"Yuan"}), 1), ("万元", frozenset({"Yuan"}), 1), ("元", frozenset({"Yuan"}), 1),
    ("yuan", frozenset({"Yuan"}), 1), ("rmb", frozenset({"Yuan"}), 1),
    ("%", frozenset({"Percent"}), 1), ("％", frozenset({"Percent"}), 1), ("percent", frozenset({"Percent"}), 1),
    ("per cent", frozenset({"Percent"}), 1), ("‰", frozenset({"PerMille"}), 1),
    ("平方米", frozenset({"SquareMetre"}), 1), ("square metres", frozenset({"SquareMetre"}), 1),
    ("square meters", frozenset({"SquareMetre"}), 1), ("㎡", frozenset({"SquareMetre"}), 1),
    ("公里", frozenset({"Kilometre"}), 1), ("千米", frozenset({"Kilometre"}), 1), ("km", frozenset({"Kilometre"}), 1),
    ("kilometres", frozenset({"Kilometre"}), 1), ("kilometers", frozenset({"Kilometre"}), 1),
    ("吨", frozenset({"Tonne"}), 1), ("tonnes", frozenset({"Tonne"}), 1), ("tons", frozenset({"Tonne"}), 1),
    ("gwh", frozenset({"WattHour"}), 10**9), ("mwh", frozenset({"WattHour"}), 10**6),
    ("kwh", frozenset({"WattHour"}), 10**3), ("千瓦时", frozenset({"WattHour"}), 10**3), ("度", frozenset({"WattHour"}), 10**3),
    ("千瓦", frozenset({"Watt"}), 10**3), ("kw", frozenset({"Watt"}), 10**3), ("mw", frozenset({"Watt"}), 10**6),
    ("gw", frozenset({"Watt"}), 10**9), ("瓦", frozenset({"Watt"}), 1),
    ("辆", frozenset({"Vehicle"}), 1), ("vehicles", frozenset({"Vehicle"}), 1), ("cars", frozenset({"Vehicle"}), 1),
    ("片晶圆", frozenset({"Wafer"}), 1), ("wafers", frozenset({"Wafer", "Piece"}), 1),
    ("片", frozenset({"Piece", "Wafer"}), 1), ("颗", frozenset({"Piece"}), 1), ("只", frozenset({"Piece"}), 1),
    ("块", frozenset({"Piece"}), 1), ("枚", frozenset({"Piece"}), 1), ("chips", frozenset({"Piece"}), 1),
    ("pieces", frozenset({"Piece"}), 1), ("panels", frozenset({"Piece"}), 1), ("modules", frozenset({"Piece"}), 1),
    ("家", frozenset({"Item"}), 1), ("个", frozenset({"Item"}), 1), ("项", frozenset({"Item"}), 1),
    ("支", frozenset({"Item"}), 1), ("条", frozenset({"Item"}), 1), ("批", frozenset({"Item"}), 1),
    ("种", frozenset({"Item"}), 1), ("所", frozenset({"Item"}), 1), ("座", frozenset({"Item"}), 1),
    ("名", frozenset({"Item"}), 1), ("位", frozenset({"Item"}), 1), ("大", frozenset({"Item"}), 1),
    ("代", frozenset({"Item"}), 1), ("generation", frozenset({"Item"}), 1), ("enterprises", frozenset({"Item"}), 1),
    ("companies", frozenset({"Item"}), 1), ("projects", frozenset({"Item"}), 1), ("lines", frozenset({"Item"}), 1),
    ("parks", frozenset({"Item"}), 1), ("platforms", frozenset({"Item"}), 1), ("funds", frozenset({"Item"}), 1),
), key=lambda u: -len(u[0])))

_ARABIC = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_MULTIPLIER = r"[万亿千百]+"
# A number: Arabic digits (with a Chinese multiplier or an English scale word after it), or a run of
# Chinese numerals, or an English number word.
_NUMBER = re.compile(
    rf"(?P<arabic>{_ARABIC})(?P<hedge>[多余]?)\s*(?P<mult>{_MULTIPLIER})?(?:\s*(?P<scale>thousand|million|billion|trillion)\b)?"
    rf"|(?P<cn>[{_CN_NUMERAL}]+)"
    rf"|\b(?P<en>{'|'.join(sorted(_EN_NUMBERS, key=len, reverse=True))})\b",
    re.IGNORECASE,
)
_RANGE_SEP = re.compile(r"\s*(?:-|–|—|~|～|至|到|to)\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Figure:
    """What a wording says: a number (or a range low..high), its unit and its qualifier."""

    low: Decimal
    high: Decimal | None = None  # a range's upper bound
    units: frozenset = frozenset()  # ck: unit local names the unit word allows (empty: no unit word)
    unit_word: str | None = None
    qualifier: str | None = None  # ck: qualifier local name, or None


def cn_numeral(text: str) -> Decimal | None:
    """A Chinese numeral (两, 十五, 三百二十, 千亿, 一万二千) as a number; None if it is not one."""
    if not text or any(c not in _CN_NUMERAL for c in text):
        return None
    done, high, section, digit = 0, 0, 0, None  # done: the 亿 part; high: the 万 part below it
    for c in text:
        if c in _CN_DIGITS:
            digit = _CN_DIGITS[c]
        elif c in _CN_SMALL:
            section += (1 if digit is None else digit) * _CN_SMALL[c]
            digit = None
        elif c == "万":  # "一万二千" = 12000, "百万" = 1e6
            high = (high + (section + (digit or 0) or 1)) * _CN_LARGE[c]
            section, digit = 0, None
        else:  # 亿: "千亿" = 1000 x 1e8, "一亿五千万" = 150,000,000, "万亿" = 1e12
            done = (done + (high + section + (digit or 0) or 1)) * _CN_LARGE[c]
            high, section, digit = 0, 0, None
    return Decimal(done + high + section + (digit or 0))


def _multiplier(chars: str | None) -> int:
    m = 1
    for c in chars or "":
        m *= {"万": 10**4, "亿": 10**8, "千": 10**3, "百": 10**2}[c]
    return m


def _number_at(text: str, pos: int = 0) -> tuple[Decimal, int, re.Match] | None:
    """The first number in text[pos:]: (value, end offset, match)."""
    for m in _NUMBER.finditer(text, pos):
        if m.group("arabic"):
            mult = m.group("mult") or ""
            rest = text[m.end("mult") if m.group("mult") else m.end("hedge"):]
            # "10万千瓦": 千 belongs to the unit (kW), not to the number
            if mult.endswith("千") and rest.startswith(("瓦", "米")):
                mult = mult[:-1]
            try:
                value = Decimal(m.group("arabic").replace(",", ""))
            except InvalidOperation:
                continue
            value *= _multiplier(mult)
            if m.group("scale"):
                value *= _EN_SCALES[m.group("scale").lower()]
            end = m.start("mult") + len(mult) if m.group("mult") else m.end("hedge")
            if m.group("scale"):
                end = m.end()
            return value, end, m
        if m.group("cn"):
            cn = m.group("cn")
            if cn.endswith("千") and text[m.end():].startswith(("瓦", "米")):
                cn = cn[:-1]
            value = cn_numeral(cn)
            if value is None or not cn:
                continue
            return value, m.start() + len(cn), m
        if m.group("en"):
            return Decimal(_EN_NUMBERS[m.group("en").lower()]), m.end(), m
    return None


def qualifier_of(text: str) -> str | None:
    """The qualifier the hedge words of a wording express (ck: local name), or None."""
    low = text.lower()
    # 余 / 多 right after a number ("1000余家", "530多亿元", "十多个") mean "more than"
    if re.search(rf"(\d|[{_CN_NUMERAL}])[余多]", text):
        return "Over"
    if re.search(r"[千百万亿]级", text):
        return "OrderOfMagnitude"  # "千亿级": the 100-billion class, [1e11, 1e12)
    if re.search(r"上[千万百亿]", text):
        return "AtLeast"  # "上千颗" (a thousand and up)
    for word, qualifier in QUALIFIER_WORDS:
        if re.fullmatch(r"[a-z ]+", word):
            if re.search(rf"\b{word}\b", low):
                return qualifier
        elif len(word) == 1 and word not in "逾":
            # one-character words only before a number: 约 in 签约, 近 in 近年, 过 in 通过 are not hedges
            if re.search(rf"{word}(?=\d|[{_CN_NUMERAL}])", text):
                return qualifier
        elif word in text:
            return qualifier
    return None


def _unit_of(rest: str) -> tuple[frozenset, str | None, int]:
    low = rest.strip().lower()
    for word, units, factor in UNIT_WORDS:
        if word.isascii() and word.isalpha():
            if re.search(rf"\b{re.escape(word)}", low):
                return units, word, factor
        elif word in low:
            return units, word, factor
    return frozenset(), None, 1


def parse_figure(wording: str) -> Figure | None:
    """What a wording says, or None when it holds no number the parser can read."""
    text = re.sub(r"\s+", " ", wording.strip().strip("\"'“”")).strip()
    first = _number_at(text)
    if first is None:
        return None
    low, end, _ = first
    high = None
    sep = _RANGE_SEP.match(text, end)
    if sep:
        second = _number_at(text, sep.end())
        if second is not None and second[2].start() == sep.end():
            high, end, m2 = second
            # "10-20亿元": the multiplier written after the second number applies to both
            if m2.group("arabic") and (m2.group("mult") or m2.group("scale")) and low < high / 1000:
                low *= high / Decimal(m2.group("arabic").replace(",", ""))
    units, word, factor = _unit_of(text[end:])
    if factor != 1:
        low *= factor
        high = high * factor if high is not None else None
    return Figure(low=low, high=high, units=units, unit_word=word, qualifier=qualifier_of(text))


# -- the check ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Disagreement:
    kind: str  # "wording" (not in the quote), "value", "unit", "qualifier", "unparsed"
    claim: str
    quantity: str
    wording: str
    quote: str
    detail: str

    def __str__(self) -> str:
        claim = self.claim.removeprefix(CLAIM_NS)
        return f"{claim}: {self.kind}: {self.detail} (wording {self.wording!r}; quote {self.quote!r})"


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _close(a: Decimal, b: Decimal) -> bool:
    return abs(a - b) <= abs(b) * Decimal("1e-9") + Decimal("1e-9")


def _short(iri: str | None) -> str | None:
    return iri.removeprefix(CK) if iri else None


def check_figure(claim: str, quantity: str, wording: str, quotes: list[str], value: str | None,
                 max_value: str | None = None, unit: str | None = None, qualifier: str | None = None) -> list[Disagreement]:
    """The disagreements of one quantity (`unit`/`qualifier` as IRIs or ck: local names)."""
    out = []
    quote = " | ".join(sorted(quotes))

    def say(kind: str, detail: str) -> None:
        out.append(Disagreement(kind, claim, quantity, wording, quote, detail))

    if not any(_normalise(wording) in _normalise(q) for q in quotes):
        say("wording", "the original wording is not in the claim's evidence quote"
            if quotes else "the claim has no evidence quote")
    fig = parse_figure(wording)
    if fig is None:
        say("unparsed", "no number could be read in the wording")
        return out
    unit, qualifier = _short(unit), _short(qualifier)
    if value is not None:
        try:
            v = Decimal(value)
        except InvalidOperation:
            say("value", f"ck:value {value!r} is not a number")
            v = None
        if v is not None and not _close(v, fig.low):
            what = f"{fig.low:,f}" if fig.high is None else f"the range {fig.low:,f} .. {fig.high:,f}, low end"
            say("value", f"the wording says {what}, ck:value is {v:,f} (ratio {v / fig.low if fig.low else 'n/a'})")
    if fig.high is not None and max_value is not None and not _close(Decimal(max_value), fig.high):
        say("value", f"the wording's range ends at {fig.high:,f}, ck:maxValue is {Decimal(max_value):,f}")
    # without a range, ck:maxValue is only the bound of a hedge: "less than" (the value itself) or an
    # order of magnitude (ten times the class's floor)
    bound = {"LessThan": fig.low, "OrderOfMagnitude": fig.low * 10}.get(_short(qualifier) or "")
    if fig.high is None and max_value is not None and (bound is None or not _close(Decimal(max_value), bound)):
        say("value", f"ck:maxValue {max_value} but the wording gives no range"
            + (f" (the bound of {_short(qualifier)} would be {bound:,f})" if bound is not None else ""))
    if fig.units and unit and unit not in fig.units:
        say("unit", f"the wording's unit {fig.unit_word!r} means {'/'.join(sorted(fig.units))}, ck:hasUnit is {unit}")
    if fig.qualifier != (None if qualifier == "Exact" else qualifier):
        if fig.qualifier is None:
            say("qualifier", f"ck:hasQualifier is {qualifier} but the wording has no hedge word")
        elif qualifier is None:
            say("qualifier", f"the wording says {fig.qualifier}, the quantity has no ck:hasQualifier")
        else:
            say("qualifier", f"the wording says {fig.qualifier}, ck:hasQualifier is {qualifier}")
    return out


_FIGURES = f"""
PREFIX ck: <{CK}>
SELECT ?claim ?q ?w ?v ?max ?u ?qual ?quote WHERE {{
  GRAPH ?claim {{
    ?q ck:originalWording ?w .
    OPTIONAL {{ ?q ck:value ?v }} OPTIONAL {{ ?q ck:maxValue ?max }}
    OPTIONAL {{ ?q ck:hasUnit ?u }} OPTIONAL {{ ?q ck:hasQualifier ?qual }}
  }}
  FILTER(STRSTARTS(STR(?claim), "{CLAIM_NS}"))
  OPTIONAL {{ GRAPH <{PROVENANCE_GRAPH}> {{ ?claim ck:evidence ?quote }} }}
}} ORDER BY ?claim ?w"""


def _check_rows(rows) -> list[Disagreement]:
    by_figure: dict = {}
    for r in rows:
        key = (r["claim"], r["q"], r["w"], r.get("v"), r.get("max"), r.get("u"), r.get("qual"))
        by_figure.setdefault(key, [])
        if r.get("quote") is not None and r["quote"] not in by_figure[key]:
            by_figure[key].append(r["quote"])
    out: list[Disagreement] = []
    for (claim, q, w, v, mx, u, qual), quotes in by_figure.items():
        out += check_figure(claim, q, w, quotes, v, mx, u, qual)
    return out


def check_dataset(ds) -> list[Disagreement]:
    """Every disagreement of a FrozenDataset's claims."""
    return sorted(_check_rows(ds.select(_FIGURES)), key=lambda d: (d.claim, d.wording, d.kind))


def check_inputs(inputs) -> list[Disagreement]:
    """Every disagreement of the loaded inputs (chainkg.build.load.Inputs), before validation."""
    from rdflib import URIRef

    def one(graph, s, p):
        o = graph.value(s, URIRef(CK + p))
        return None if o is None else str(o)

    provenance = inputs.graphs.get(URIRef(PROVENANCE_GRAPH))
    rows = []
    for name, graph in inputs.graphs.items():
        if not str(name).startswith(CLAIM_NS):
            continue
        quotes = [str(q) for q in provenance.objects(name, URIRef(CK + "evidence"))] if provenance is not None else []
        for q, w in graph.subject_objects(URIRef(CK + "originalWording")):
            row = {"claim": str(name), "q": str(q), "w": str(w), "v": one(graph, q, "value"),
                   "max": one(graph, q, "maxValue"), "u": one(graph, q, "hasUnit"), "qual": one(graph, q, "hasQualifier")}
            for quote in quotes or [None]:
                rows.append({k: v for k, v in {**row, "quote": quote}.items() if v is not None})
    return sorted(_check_rows(rows), key=lambda d: (d.claim, d.wording, d.kind))


def main(argv: list[str] | None = None) -> int:
    """`python -m chainkg.build.consistency [ROOT]`: print every disagreement; exit 1 if any."""
    from pathlib import Path

    from chainkg.build.load import load
    from chainkg.config import Config

    args = sys.argv[1:] if argv is None else argv
    config = Config(root=Path(args[0]).resolve()) if args else Config()
    found = check_inputs(load(config))
    for d in found:
        print(d)
    print(f"{len(found)} disagreement(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
