#!/usr/bin/env python
"""How much of each article the claims quote (issue #12 item 7).

Splits each article into sentences and reports, per article, the fact-bearing sentences, how
many of them some claim quotes, the percentage, and the ones still uncovered.

- **Sentences**: the text is cut after 。！？； (and their ASCII forms), at every line break, and
  between English sentences ('. ' before a capital or a quote). Whitespace runs count as one
  space; pieces shorter than MIN_CHARS characters (share counters, "0") are not sentences.
- **Quoted**: a sentence is quoted when at least QUOTED_SHARE of its characters lie inside an
  occurrence, in the article, of some claim's evidence quote (whitespace normalised as in
  tests/test_evidence.py). Several quotes may add up; a quote spanning two sentences covers both.
  Every occurrence of a quote counts, and a sentence that, less its end punctuation, occurs inside
  a quote is quoted too, so a sentence repeated in a summary box is quoted wherever it stands.
- **Not fact-bearing**: the sentences listed in triples/coverage-exclusions.toml, each with a
  reason (page furniture, a byline, a headline or caption that repeats the body, rhetoric with no
  subject or claim). An entry names its article (the 3-digit prefix) and the start of a sentence;
  it excludes every sentence that starts so. `rest = true` also excludes every sentence after it
  (000: 相关推荐 and the unrelated page content below it).
- **Fact-bearing** = every sentence not excluded. tests/test_coverage.py requires each article
  to reach TARGET and every exclusion entry to match a sentence no claim quotes.

    .venv/bin/python scripts/coverage.py [--numbers] [ARTICLE-PREFIX ...]

--numbers also lists, claim by claim, the numbers a quote contains that no literal of that
claim's graph carries (a figure quoted but not captured as a quantity, date or wording).
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import Dataset, Graph, Namespace, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF

ROOT = Path(__file__).resolve().parents[1]
CK = Namespace("https://w3id.org/chainkg/ontology#")
EXCLUSIONS = ROOT / "triples" / "coverage-exclusions.toml"
MIN_CHARS = 8
QUOTED_SHARE = 0.5
TARGET = 0.95
END = "。！？；!?;.…” "
SPLIT = re.compile(r"(?<=[。！？；!?;])|\n|(?<=\.)\s+(?=[A-Z\"“])")


def norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


@dataclass
class Exclusion:
    article: str
    start: str
    reason: str
    rest: bool = False
    matched: list[int] = field(default_factory=list)  # indices of the sentences it names


@dataclass
class Sentence:
    text: str
    start: int  # offset in the normalised article
    quoted_share: float = 0.0
    excluded_by: Exclusion | None = None

    @property
    def quoted(self) -> bool:
        return self.quoted_share >= QUOTED_SHARE


@dataclass
class Report:
    article: str  # file name
    sentences: list[Sentence]

    @property
    def fact_bearing(self) -> list[Sentence]:
        return [s for s in self.sentences if s.excluded_by is None]

    @property
    def quoted(self) -> list[Sentence]:
        return [s for s in self.fact_bearing if s.quoted]

    @property
    def uncovered(self) -> list[Sentence]:
        return [s for s in self.fact_bearing if not s.quoted]

    @property
    def share(self) -> float:
        fb = self.fact_bearing
        return len(self.quoted) / len(fb) if fb else 1.0


def sources_dir() -> Path:
    from chainkg.config import Config

    return Config().sources


def load_quotes(triples: Path = ROOT / "triples") -> dict[str, list[str]]:
    """{article file name: [evidence quotes]} from the triples files and the catalogue."""
    ds = Dataset()
    for f in sorted(triples.glob("*.trig")):
        ds.parse(f, format="trig")
    cat = Graph().parse(triples / "sources.ttl", format="turtle")
    ident = {s: str(o) for s, o in cat.subject_objects(DCTERMS.identifier)}
    out: dict[str, list[str]] = {}
    g = ds.default_graph
    for claim in g.subjects(RDF.type, CK.Claim):
        src = g.value(claim, PROV.wasDerivedFrom)
        name = ident.get(src) if isinstance(src, URIRef) else None
        if name is None:
            continue
        out.setdefault(name, []).extend(norm(str(q)) for q in g.objects(claim, CK.evidence))
    return out


def load_exclusions(path: Path = EXCLUSIONS) -> list[Exclusion]:
    if not path.exists():
        return []
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    out = []
    for i, e in enumerate(data.get("exclude", [])):
        missing = [k for k in ("article", "start", "reason") if not str(e.get(k, "")).strip()]
        if missing:
            raise ValueError(f"{path.name}: entry {i + 1} ({e.get('start', '?')!r}) lacks {', '.join(missing)}")
        out.append(Exclusion(str(e["article"]), norm(str(e["start"])), str(e["reason"]).strip(), bool(e.get("rest", False))))
    return out


def sentences_of(text: str) -> list[Sentence]:
    out, pos = [], 0
    flat = norm(text)
    for piece in SPLIT.split(text):
        s = norm(piece)
        if len(s) < MIN_CHARS:
            continue
        at = flat.find(s, pos)
        if at < 0:  # cannot happen: pieces are in order and normalised alike
            raise AssertionError(f"sentence not found in its article: {s[:40]}")
        out.append(Sentence(s, at))
        pos = at + len(s)
    return out


def analyse(path: Path, quotes: list[str], exclusions: list[Exclusion]) -> Report:
    text = path.read_text(encoding="utf-8")
    flat = norm(text)
    covered = bytearray(len(flat))
    for q in quotes:
        if not q:
            continue
        at = flat.find(q)
        while at >= 0:
            covered[at:at + len(q)] = b"\x01" * len(q)
            at = flat.find(q, at + 1)
    sents = sentences_of(text)
    for s in sents:
        chars = [i for i in range(s.start, s.start + len(s.text)) if not flat[i].isspace()]
        s.quoted_share = sum(covered[i] for i in chars) / len(chars) if chars else 0.0
        bare = s.text.rstrip(END)
        if s.quoted_share < 1.0 and len(bare) >= MIN_CHARS and any(bare in q for q in quotes):
            s.quoted_share = 1.0  # a repeat (summary box, caption) of a quoted sentence
    prefix = path.name[:3]
    for e in (e for e in exclusions if e.article == prefix):
        for i, s in enumerate(sents):
            if s.text.startswith(e.start):
                e.matched.append(i)
                for t in sents[i:] if e.rest else [s]:
                    if t.excluded_by is None:
                        t.excluded_by = e
    return Report(path.name, sents)


def reports(articles: list[str] | None = None, sources: Path | None = None,
            exclusions: list[Exclusion] | None = None) -> list[Report]:
    sources = sources or sources_dir()
    quotes = load_quotes()
    exclusions = load_exclusions() if exclusions is None else exclusions
    out = []
    for path in sorted(sources.glob("*.txt")):
        if articles and not any(path.name.startswith(a) for a in articles):
            continue
        out.append(analyse(path, quotes.get(path.name, []), exclusions))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("articles", nargs="*", help="article prefixes (000 ...); all by default")
    ap.add_argument("--numbers", action="store_true", help="also list quoted numbers no literal of the claim carries")
    args = ap.parse_args(argv)
    try:
        exclusions = load_exclusions()
        rs = reports(args.articles, exclusions=exclusions)
    except (ValueError, tomllib.TOMLDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for r in rs:
        fb = r.fact_bearing
        print(f"\n== {r.article}: {len(r.sentences)} sentences, {len(r.sentences) - len(fb)} excluded, "
              f"{len(fb)} fact-bearing, {len(r.quoted)} quoted ({100 * r.share:.1f}%)")
        for s in r.uncovered:
            print(f"  [{100 * s.quoted_share:3.0f}%] {s.text[:150]}")
    stale = [e for e in exclusions if not e.matched and (not args.articles or e.article in args.articles)]
    for e in stale:
        print(f"stale exclusion: {e.article} {e.start!r} matches no sentence", file=sys.stderr)
    if args.numbers:
        figures_not_captured()
    return 1 if stale else 0


def figures_not_captured() -> None:
    ds = Dataset()
    for f in sorted((ROOT / "triples").glob("*.trig")):
        ds.parse(f, format="trig")
    g = ds.default_graph
    gaps = []
    for claim in sorted(g.subjects(RDF.type, CK.Claim)):
        lits = [str(o) for _s, _p, o in ds.graph(claim) if not isinstance(o, URIRef)]
        digits = re.sub(r"[\s,]", "", " ".join(lits))
        for q in g.objects(claim, CK.evidence):
            nums = sorted(set(re.findall(r"\d+(?:\.\d+)?", str(q).replace(",", ""))))
            gaps += [(claim, n, str(q)) for n in nums if n not in digits]
    print(f"\n== numbers quoted but not in any literal of their claim: {len(gaps)}")
    for claim, n, q in gaps:
        print(f"  {claim.rsplit('/', 1)[1]:<36} {n:>8}  {norm(q)[:100]}")


if __name__ == "__main__":
    sys.exit(main())
