"""Full-text search: index build time, size, query latency and quality, on today's graph and at the
1M-triple scale (the documents of today's graph copied until their graph would hold a million
triples), against two ways without an index: a SPARQL FILTER(CONTAINS) over the labels (today's
`search-labels` saved query) and a Python scan of every normalised text.

    .venv/bin/python scripts/benchmark_search.py [--scale 1000000] [--repeat 3]

Quality: the 50 zh/en queries of tests/test_search.py (QUALITY), each with the things it must find.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "server"))
sys.path.insert(0, str(ROOT / "tests"))

from chainkg.build import textindex  # noqa: E402
from chainkg.build.pipeline import build  # noqa: E402
from chainkg.config import Config  # noqa: E402

BASE = "https://w3id.org/chainkg/"


def quality_set() -> list:
    from test_search import QUALITY  # the set the tests keep

    return QUALITY


def percentiles(ms: list[float]) -> str:
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    return f"p50 {statistics.median(ms):7.2f} ms  p95 {p95:7.2f} ms  max {ms[-1]:7.2f} ms"


def run_queries(ix: textindex.SearchIndex, queries: list, repeat: int) -> tuple[list[float], int, int]:
    times, good, truncated = [], 0, 0
    for query, expected, top in queries:
        for _ in range(repeat):
            t = time.perf_counter()
            found = ix.search(query, limit=10)
            times.append((time.perf_counter() - t) * 1000)
        truncated += found["truncated"]
        got = [h.iri[len(BASE):] for h in found["results"]]
        good += bool(set(expected) & set(got[:top]))
    return times, good, truncated


def scaled(things: dict, docs: list, copies: int) -> tuple[dict, list]:
    """copies of every thing and document under new IRIs (copy 0 is the original)."""
    out_things, out_docs = dict(things), list(docs)
    for i in range(1, copies):
        for iri, t in things.items():
            out_things[f"{iri}~{i}"] = textindex.Thing(f"{iri}~{i}", t.kind, t.labels, t.types, t.places, t.links)
        out_docs.extend(textindex.Doc(f"{d.thing}~{i}", d.field, d.lang, d.text, d.claim) for d in docs)
    return out_things, out_docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1_000_000, help="triples of the scaled graph")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each query")
    args = parser.parse_args()
    queries = quality_set()
    ds = build(Config(build_dir=Path(tempfile.mkdtemp(prefix="bench-search-")))).dataset
    triples = ds.meta["stats"]["distinct_triples"]
    print(f"sqlite {textindex.sqlite3.sqlite_version}; today's graph: {triples:,} distinct triples; "
          f"{len(queries)} quality queries, {args.repeat} runs each")

    t = time.perf_counter()
    things, docs = textindex.extract(ds)
    extract_s = time.perf_counter() - t
    folder = Path(tempfile.mkdtemp(prefix="bench-search-"))
    meta = textindex.write_index(things, docs, folder / "today.sqlite", ds.version)
    size = (folder / "today.sqlite").stat().st_size
    ix = textindex.SearchIndex(folder / "today.sqlite")
    times, good, truncated = run_queries(ix, queries, args.repeat)
    print("\nengine               graph     things     texts   build s   size MB   latency (10 results)")
    print(f"fts5-trigram         today {meta['things']:>10,} {meta['docs']:>9,} {extract_s + meta['build_s']:>9.2f} "
          f"{size / 1e6:>9.1f}   {percentiles(times)}")
    print(f"  quality: {good}/{len(queries)} queries find what they must; truncated {truncated}")

    # without an index: SPARQL CONTAINS over labels (what the search-labels saved query does), today's graph
    sparql_ms = []
    for query, _, _ in queries:
        text = query.replace("\\", "\\\\").replace('"', '\\"').lower()
        t = time.perf_counter()
        ds.select('PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> SELECT ?s WHERE { ?s rdfs:label ?l '
                  f'FILTER(CONTAINS(LCASE(STR(?l)), "{text}")) }} LIMIT 10')
        sparql_ms.append((time.perf_counter() - t) * 1000)
    print(f"sparql-contains      today {'(labels only)':>30} {'-':>9} {'-':>9}   {percentiles(sparql_ms)}")

    copies = max(2, -(-args.scale // triples))
    big_things, big_docs = scaled(things, docs, copies)
    meta = textindex.write_index(big_things, big_docs, folder / "scaled.sqlite", "scaled")
    size = (folder / "scaled.sqlite").stat().st_size
    ix = textindex.SearchIndex(folder / "scaled.sqlite")
    times, good, truncated = run_queries(ix, queries, args.repeat)
    label = f"x{copies}"
    print(f"fts5-trigram     {label:>9} {meta['things']:>10,} {meta['docs']:>9,} {meta['build_s']:>9.2f} "
          f"{size / 1e6:>9.1f}   {percentiles(times)}")
    print(f"  ({copies} copies = {copies * triples:,} triples) quality: {good}/{len(queries)}; truncated {truncated} "
          f"(budget {textindex.TIME_BUDGET_S * 1000:.0f} ms)")

    # without an index at scale: scan every normalised text in Python
    norms = [textindex.normalise(d.text) for d in big_docs[: len(docs) * copies]]
    scan_ms = []
    for query, _, _ in queries[:: 5]:
        qn = textindex.normalise(query)
        t = time.perf_counter()
        _ = [i for i, n in enumerate(norms) if qn in n][:10]
        scan_ms.append((time.perf_counter() - t) * 1000)
    print(f"python-scan      {label:>9} {'':>10} {len(norms):>9,} {'-':>9} {'-':>9}   {percentiles(scan_ms)}")


if __name__ == "__main__":
    main()
