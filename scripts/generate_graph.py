#!/usr/bin/env python
"""Generate a valid synthetic chain graph of about N asserted triples (not a test; issue #11).

    .venv/bin/python scripts/generate_graph.py N OUT_DIR [--root PROJECT]

The real data is replicated: replica 0 is the real graph itself; replica k >= 1 copies every
claim of every article under new IRIs (`id/{slug}-r{k}`, `claim/{slug}-r{k}`), every entity's
labels get the suffix ` #{k}` (labels stay unique: shape S10), and blank nodes (quantities,
rankings) are renamed per replica. The evidence quotes, figures and wordings are kept verbatim,
so every claim still cites a passage its article really contains. Background geography
(graph/background), the catalogue of sources, the ontology and the shapes are shared: they are
written (or linked) once. Each replica of each article is one file, `triples/{NNN}_r{k}.trig`,
so "editing one article file" touches one replica of one article.

OUT_DIR becomes a project folder that `chainkg --root OUT_DIR build` builds: ontology/, shapes/
and queries/ are copies of the project's own (a snapshot: edits to the checkout do not change a
generated project, so its cache stays valid while a benchmark runs), triples/ is generated.

N counts asserted triples as the build does (every loaded graph: ontology, provenance,
background, claims). A replica is the unit, so the result is the nearest multiple; N below one
replica (the real graph) or above 10,000,000 is refused with a clear message.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "server"))

BASE = "https://w3id.org/chainkg/"
ID_NS, CLAIM_NS = BASE + "id/", BASE + "claim/"
BACKGROUND_GRAPH = BASE + "graph/background"
LABELS = {
    "http://www.w3.org/2000/01/rdf-schema#label",
    "http://www.w3.org/2004/02/skos/core#prefLabel",
    "http://www.w3.org/2004/02/skos/core#altLabel",
}
MIN_N, MAX_N = 10_000, 10_000_000


class ImpossibleSize(ValueError):
    """N cannot be generated: the message says why and what is possible."""


def _n3(term) -> str:
    return term.n3()


class Template:
    """The real graph, read once: per article file its quads, plus what is shared."""

    def __init__(self, root: Path):
        from rdflib import BNode, Dataset, URIRef
        from rdflib.graph import DATASET_DEFAULT_GRAPH_ID

        self.root = root
        self.articles: dict[str, list] = {}  # file stem -> [(s, p, o, g or None)]
        shared: set[str] = set()
        for path in sorted((root / "triples").glob("*.trig")):
            ds = Dataset()
            ds.parse(path, format="trig")
            quads = []
            for g in ds.graphs():
                name = None if g.identifier == DATASET_DEFAULT_GRAPH_ID else str(g.identifier)
                for s, p, o in g:
                    quads.append((s, p, o, name))
            if path.stem == "background":
                shared |= {str(t) for s, _p, o, _g in quads for t in (s, o) if isinstance(t, URIRef)}
                continue
            self.articles[path.stem] = quads
        self.shared = shared
        self.BNode, self.URIRef = BNode, URIRef
        self.fixed = self._count_fixed()
        self.per_replica = sum(len(q) for q in self.articles.values())

    def _count_fixed(self) -> int:
        """Triples every synthetic graph shares: ontology, catalogue, background."""
        from rdflib import Dataset, Graph

        n = 0
        for path in sorted((self.root / "ontology").glob("*.ttl")) + sorted((self.root / "triples").glob("*.ttl")):
            g = Graph()
            g.parse(path, format="turtle")
            n += len(g)
        ds = Dataset()
        ds.parse(self.root / "triples" / "background.trig", format="trig")
        return n + sum(len(g) for g in ds.graphs())

    def replicas_for(self, n: int) -> int:
        """How many replicas make about n asserted triples, or ImpossibleSize."""
        smallest = self.fixed + self.per_replica
        if n < MIN_N or n > MAX_N:
            raise ImpossibleSize(f"N={n:,} is outside the supported range {MIN_N:,} to {MAX_N:,} asserted triples")
        if n < smallest:
            raise ImpossibleSize(f"N={n:,} is below one replica of the real graph ({smallest:,} asserted triples)")
        return max(1, round((n - self.fixed) / self.per_replica))

    def term(self, t, k: int) -> str:
        """The N-Triples form of `t` in replica k."""
        if k == 0:
            return t.n3()
        if isinstance(t, self.BNode):
            return f"_:r{k}x{t}"
        if isinstance(t, self.URIRef):
            iri = str(t)
            if (iri.startswith(ID_NS) and iri not in self.shared) or iri.startswith(CLAIM_NS):
                return f"<{iri}-r{k}>"
            return t.n3()
        return t.n3()

    def label(self, s, o, k: int) -> str:
        if k == 0 or not isinstance(s, (self.URIRef, self.BNode)) or str(s) in self.shared:
            return o.n3()
        from rdflib import Literal

        return Literal(f"{o} #{k}", lang=o.language, datatype=o.datatype).n3()

    def write_replica(self, stem: str, k: int, out: Path) -> int:
        """Write replica k of one article as TriG; return its number of triples."""
        by_graph: dict = {}
        for s, p, o, g in self.articles[stem]:
            by_graph.setdefault(g, []).append((s, p, o))
        lines = [f"# synthetic replica {k} of triples/{stem}.trig (scripts/generate_graph.py)"]
        n = 0
        for g, triples in by_graph.items():
            if g is not None:
                lines.append(f"{self.term(self.URIRef(g), k)} {{")
            for s, p, o in triples:
                obj = self.label(s, o, k) if str(p) in LABELS else self.term(o, k)
                lines.append(f"  {self.term(s, k)} {p.n3()} {obj} .")
                n += 1
            if g is not None:
                lines.append("}")
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return n


def generate(n: int, out: Path, root: Path = ROOT) -> dict:
    """Write the project folder; return {"replicas", "files", "asserted"} (asserted as the build counts)."""
    template = Template(root)
    replicas = template.replicas_for(n)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("ontology", "shapes", "queries"):
        target = out / name
        if target.is_symlink():
            target.unlink()
        elif target.exists():
            shutil.rmtree(target)
        shutil.copytree(root / name, target)
    triples = out / "triples"
    triples.mkdir(exist_ok=True)
    for old in triples.glob("*"):
        old.unlink()
    for name in ("sources.ttl", "background.trig"):
        (triples / name).write_bytes((root / "triples" / name).read_bytes())
    total, files = template.fixed, 0
    for k in range(replicas):
        for stem in template.articles:
            total += template.write_replica(stem, k, triples / f"{stem[:3]}_r{k:05d}.trig")
            files += 1
    return {"replicas": replicas, "files": files, "asserted": total}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("n", type=lambda s: int(float(s)), help="asserted triples wanted (10k to 10M; 1e6 works)")
    ap.add_argument("out", type=Path, help="project folder to write (created; its triples/ is replaced)")
    ap.add_argument("--root", type=Path, default=ROOT, help="the project whose data is replicated")
    args = ap.parse_args(argv)
    t = time.perf_counter()
    try:
        info = generate(args.n, args.out, args.root)
    except ImpossibleSize as e:
        print(f"generate_graph: {e}", file=sys.stderr)
        return 2
    print(f"{info['asserted']:,} asserted triples ({info['replicas']} replicas, {info['files']} article files) "
          f"in {args.out} ({time.perf_counter() - t:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
