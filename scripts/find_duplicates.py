"""Candidate duplicates in triples/*.trig: things with the same or similar names (issue #12 item 5).

Reads every article file (not background.trig or sources.ttl), collects each entity's names
(rdfs:label, skos:prefLabel, skos:altLabel in zh and en) and the files that state anything about it,
and lists pairs of different IRIs that

  same      share a normalised name (case, spaces, punctuation, brackets dropped);
  stem      one's normalised zh name contains the other's after generic words are cut
            (产业, 有限公司, 青岛, 集团, 项目 ...), with at least two characters left;
  similar   have zh or en names whose similarity ratio (difflib) is at least --ratio;

and the entities without any rdfs:label. A candidate is not a duplicate: each needs a reading of
the quotes (see the decisions in triples/README.md, "Facility, operator, project" and "One IRI per
real thing"). Run:

    .venv/bin/python scripts/find_duplicates.py [--ratio 0.85] [--root .]

Exit status 0; the list is for a person to read.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections import defaultdict
from itertools import combinations
from pathlib import Path

from rdflib import Dataset, URIRef
from rdflib.namespace import RDF, RDFS, SKOS

ID = "https://w3id.org/chainkg/id/"
SKIP = ("/figure/", "/milestone/", "/role/", "/measure-")
GENERIC = ["有限责任公司", "有限公司", "股份", "集团", "科技", "技术", "产业", "项目", "青岛市", "青岛", "(青岛)", "（青岛）",
           "中国", "山东省", "新区", "区", "市", "的"]


def norm(text: str) -> str:
    text = text.lower()
    text = re.sub(r"[\s\-_·•.,，、:：;；\"'“”‘’()（）\[\]【】《》<>/]", "", text)
    return text


def stem(text: str) -> str:
    out = norm(text)
    for g in GENERIC:
        out = out.replace(norm(g), "")
    # years, editions and list words: "2023年…TOP30" and "…榜单" name one series
    return re.sub(r"\d+年?|top|榜单|排名|榜", "", out)


# kinds of thing: a pair is a candidate only within one kind (an enterprise and its base are two things,
# linked by ck:operatedBy, not duplicates); statements (events, measures, influences...) are not compared
KIND = {
    "Enterprise": "agent", "Organization": "agent", "GovernmentBody": "agent", "ParkManagement": "agent",
    "InvestmentPlatform": "agent", "Fund": "agent", "ResearchInstitute": "agent", "University": "agent",
    "InnovationPlatform": "agent", "InnovationCentre": "agent", "Person": "agent",
    "Facility": "site", "ProductionBase": "site", "ProductionLine": "site", "Headquarters": "site",
    "Project": "site", "IndustrialPark": "site", "EmergingIndustryPark": "site", "Zone": "site",
    "Industry": "concept", "SubTrack": "concept", "Product": "concept", "ChainSegment": "concept",
    "IndustrialChain": "concept", "IndustryCategory": "concept",
    "RankingList": "ranking", "RankingEdition": "ranking", "Report": "ranking",
    # a ck:Ranking (one position on a list) is a statement about its list, not compared
}


def kinds(types: set[str]) -> set[str]:
    return {KIND[t] for t in types if t in KIND}


def load(root: Path):
    names: dict[URIRef, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    files: dict[URIRef, set[str]] = defaultdict(set)
    types: dict[URIRef, set[str]] = defaultdict(set)
    for path in sorted((root / "triples").glob("[0-9]*.trig")):
        ds = Dataset()
        ds.parse(path, format="trig")
        for s, p, o, _g in ds.quads((None, None, None, None)):
            if not isinstance(s, URIRef) or not str(s).startswith(ID) or any(k in str(s) for k in SKIP):
                continue
            files[s].add(path.name[:3])
            if p in (RDFS.label, SKOS.prefLabel, SKOS.altLabel):
                names[s][getattr(o, "language", None) or ""].add(str(o))
            elif p == RDF.type:
                types[s].add(str(o).rsplit("#", 1)[-1])
    return names, files, types


def candidates(names, files, types, ratio: float):
    keyed = defaultdict(set)
    for e, by_lang in names.items():
        for lang_names in by_lang.values():
            for n in lang_names:
                keyed[norm(n)].add(e)
    seen = set()
    for key, es in keyed.items():
        for a, b in combinations(sorted(es), 2):
            seen.add((a, b))
            yield "same", a, b, key
    ents = sorted(e for e in names if kinds(types[e]))
    for a, b in combinations(ents, 2):
        if (a, b) in seen or not kinds(types[a]) & kinds(types[b]):
            continue
        za, zb = names[a].get("zh", set()), names[b].get("zh", set())
        hit = None
        for x in za:
            for y in zb:
                sx, sy = stem(x), stem(y)
                if len(sx) >= 2 and len(sy) >= 2 and (sx in sy or sy in sx):
                    hit = ("stem", f"{x} ~ {y}")
                    break
                if difflib.SequenceMatcher(None, norm(x), norm(y)).ratio() >= ratio:
                    hit = ("similar", f"{x} ~ {y}")
            if hit and hit[0] == "stem":
                break
        if not hit:
            for x in names[a].get("en", set()):
                for y in names[b].get("en", set()):
                    if difflib.SequenceMatcher(None, norm(x), norm(y)).ratio() >= ratio:
                        hit = ("similar", f"{x} ~ {y}")
        if hit:
            yield hit[0], a, b, hit[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    ap.add_argument("--ratio", type=float, default=0.85)
    ap.add_argument("--cross-file-only", action="store_true", help="only pairs stated in different articles")
    args = ap.parse_args(argv)
    names, files, types = load(args.root)
    short = lambda e: str(e)[len(ID):]  # noqa: E731
    rows = []
    for kind, a, b, why in candidates(names, files, types, args.ratio):
        if args.cross_file_only and files[a] == files[b] and len(files[a]) == 1:
            continue
        rows.append((kind, short(a), "/".join(sorted(types[a])), ",".join(sorted(files[a])),
                     short(b), "/".join(sorted(types[b])), ",".join(sorted(files[b])), why))
    order = {"same": 0, "stem": 1, "similar": 2}
    rows.sort(key=lambda r: (order[r[0]], r[1], r[4]))
    for r in rows:
        print("\t".join(r))
    unlabelled = sorted(short(e) for e in files if not names[e].get("zh") and not names[e].get("en")
                        and types[e])
    for e in unlabelled:
        print(f"unlabelled\t{e}\t{'/'.join(sorted(types[URIRef(ID + e)]))}\t{','.join(sorted(files[URIRef(ID + e)]))}")
    print(f"# {len(rows)} candidate pairs, {len(unlabelled)} typed entities without a label", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
