#!/usr/bin/env python
"""Which sentences of each article no claim quotes (a maintainer's aid, not a test).

Splits each article into sentences and prints those that no evidence quote overlaps, marking
the ones that carry a figure (a digit or a Chinese numeral with a unit), which are the likeliest
facts still missing. Article 000 is read up to 相关推荐 (the rest is unrelated page content).

    .venv/bin/python scripts/coverage.py [--all] [ARTICLE-STEM ...]

It then lists, claim by claim, the numbers a quote contains that no literal of that claim's
graph carries (a figure quoted but not captured as a quantity, date or wording).
"""

from __future__ import annotations

import argparse
import re

from chainkg.build.pipeline import build
from chainkg.config import Config

QUOTES = """
PREFIX ck: <https://w3id.org/chainkg/ontology#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX dcterms: <http://purl.org/dc/terms/>
SELECT ?file ?quote WHERE { ?c a ck:Claim ; prov:wasDerivedFrom ?s ; ck:evidence ?quote . ?s dcterms:identifier ?file }"""
FIGURE = re.compile(r"\d|[一二两三四五六七八九十百千万亿]+(个|家|项|亿|万|条|倍|成|批|类)")
SPLIT = re.compile(r"(?<=[。！？!?；;])|\n|(?<=\.)\s+(?=[A-Z\"“])")


def norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("articles", nargs="*")
    ap.add_argument("--all", action="store_true", help="also list uncovered sentences without figures")
    args = ap.parse_args()
    config = Config()
    ds = build(config).dataset
    quotes: dict[str, list[str]] = {}
    for r in ds.select(QUOTES):
        quotes.setdefault(r["file"], []).append(norm(r["quote"]))
    for path in sorted(config.sources.glob("*.txt")):
        if args.articles and not any(a in path.name for a in args.articles):
            continue
        text = path.read_text(encoding="utf-8")
        if "相关推荐" in text:
            text = text[: text.index("相关推荐")]
        qs = quotes.get(path.name, [])
        sentences = [norm(s) for s in SPLIT.split(text) if len(norm(s)) >= 12]
        missing = [s for s in sentences if not any(q in s or s in q or (len(q) > 10 and q[:10] in s) for q in qs)]
        with_fig = [s for s in missing if FIGURE.search(s)]
        print(f"\n== {path.name}: {len(sentences)} sentences, {len(sentences) - len(missing)} quoted, "
              f"{len(missing)} not ({len(with_fig)} with a figure)")
        for s in (missing if args.all else with_fig):
            print(("  [fig] " if s in with_fig else "        ") + s[:160])
    figures_not_captured(ds)


def figures_not_captured(ds) -> None:
    rows = ds.select("PREFIX ck: <https://w3id.org/chainkg/ontology#> SELECT ?c ?q WHERE { ?c a ck:Claim ; ck:evidence ?q }")
    gaps = []
    for r in rows:
        lits = ds.select("SELECT ?o WHERE {{ GRAPH <{}> {{ ?s ?p ?o FILTER(isLiteral(?o)) }} }}".format(r["c"]))
        digits = re.sub(r"[\s,]", "", " ".join(x["o"] for x in lits))
        gaps += [(r["c"], n, r["q"]) for n in sorted(set(re.findall(r"\d+(?:\.\d+)?", r["q"].replace(",", "")))) if n not in digits]
    print(f"\n== numbers quoted but not in any literal of their claim: {len(gaps)}")
    for claim, n, q in gaps:
        print(f"  {claim.rsplit('/', 1)[1]:<36} {n:>8}  {norm(q)[:100]}")


if __name__ == "__main__":
    main()
