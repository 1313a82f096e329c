"""Step 4: the frozen dataset. Immutable, versioned by the hash of its inputs, held in an
in-memory Oxigraph store (thread-safe reads, fast SPARQL) and cached on disk as N-Quads.

Loading a cached dataset imports neither rdflib nor pySHACL nor owlrl: a restart with
unchanged inputs only hashes the input files and bulk-loads one N-Quads file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from chainkg.build.load import INFERRED_GRAPH, ONTOLOGY_GRAPH

PREFIXES = {
    "ck": "https://w3id.org/chainkg/ontology#",
    "id": "https://w3id.org/chainkg/id/",
    "claim": "https://w3id.org/chainkg/claim/",
    "src": "https://w3id.org/chainkg/source/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "prov": "http://www.w3.org/ns/prov#",
    "dcterms": "http://purl.org/dc/terms/",
    "schema": "https://schema.org/",
    "org": "http://www.w3.org/ns/org#",
}
DATASET_FILE = "dataset.nq"
META_FILE = "meta.json"


def term_value(term) -> str | None:
    """A result term as a plain Python string (IRI, lexical form, or blank node label)."""
    if term is None:
        return None
    return term.value


@dataclass
class FrozenDataset:
    """`store` holds the named graphs only (what dumps and pages read). Queries run on two
    derived stores whose default graph is the *distinct* union (Oxigraph's own union default
    graph is a multiset: a triple stated by three claims would count three times)."""

    store: ox.Store
    version: str
    meta: dict = field(default_factory=dict)
    union_store: ox.Store = field(init=False, repr=False)
    asserted_store: ox.Store = field(init=False, repr=False)

    def __post_init__(self) -> None:
        inferred = ox.NamedNode(INFERRED_GRAPH)
        self.union_store = ox.Store()
        self.union_store.extend(self.store)
        self.asserted_store = ox.Store()
        self.asserted_store.extend(q for q in self.store if q.graph_name != inferred)
        for st in (self.union_store, self.asserted_store):
            st.update("INSERT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }")

    # -- graphs ---------------------------------------------------------------
    def graph_names(self) -> list[str]:
        return sorted(g.value for g in self.store.named_graphs())

    def asserted_graphs(self) -> list:
        return [ox.NamedNode(g) for g in self.graph_names() if g != INFERRED_GRAPH]

    # -- queries --------------------------------------------------------------
    def query(self, sparql: str, *, substitutions: dict | None = None, asserted_only: bool = False,
              default_graph: list | None = None, named_graphs: list | None = None):
        """Run SPARQL. By default the default graph is the distinct union of every graph;
        asserted_only excludes graph/inferred; an explicit default_graph list (graphs of
        the dataset, never fetched) overrides both."""
        if substitutions:
            # Oxigraph's own substitutions require the variable to be projected;
            # a VALUES block built from terms binds anywhere in the WHERE group.
            from chainkg.sparql.saved import inject_values

            sparql = inject_values(sparql, substitutions)
        kwargs: dict = {}
        store = self.asserted_store if asserted_only else self.union_store
        if default_graph is not None:
            kwargs["default_graph"] = default_graph
            store = self.store
        if named_graphs is not None:
            kwargs["named_graphs"] = named_graphs
        return store.query(sparql, **kwargs)

    def select(self, sparql: str, **kwargs) -> list[dict]:
        """SELECT as a list of {variable: str} (unbound variables omitted)."""
        result = self.query(sparql, **kwargs)
        names = [v.value for v in result.variables]
        rows = []
        for solution in result:
            row = {}
            for n in names:
                t = solution[n]
                if t is not None:
                    row[n] = term_value(t)
            rows.append(row)
        return rows

    def count(self, graph: str | None = None) -> int:
        if graph is None:
            return len(self.store)
        return sum(1 for _ in self.store.quads_for_pattern(None, None, None, ox.NamedNode(graph)))

    # -- persistence ----------------------------------------------------------
    def save(self, cache_dir: Path) -> Path:
        """Write atomically to cache_dir/<version>/; an existing good cache is never half-replaced."""
        cache_dir.mkdir(parents=True, exist_ok=True)
        final = cache_dir / self.version
        tmp = Path(tempfile.mkdtemp(prefix=f".{self.version}-", dir=cache_dir))
        try:
            self.store.dump(str(tmp / DATASET_FILE), ox.RdfFormat.N_QUADS)
            (tmp / META_FILE).write_text(json.dumps(self.meta, ensure_ascii=False, indent=1))
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        (cache_dir / "CURRENT").write_text(self.version + "\n")
        return final

    @classmethod
    def load(cls, cache_dir: Path, version: str) -> FrozenDataset | None:
        folder = cache_dir / version
        if not (folder / DATASET_FILE).exists() or not (folder / META_FILE).exists():
            return None
        store = ox.Store()
        # parse + extend (not bulk_load, which renames blank nodes on every load) keeps
        # blank-node labels stable across restarts, so dumps are byte-reproducible
        store.extend(ox.parse(path=str(folder / DATASET_FILE), format=ox.RdfFormat.N_QUADS))
        meta = json.loads((folder / META_FILE).read_text())
        return cls(store=store, version=version, meta=meta)

    @classmethod
    def from_files(cls, paths: list, version: str | None = None) -> FrozenDataset:
        """Serve an arbitrary set of RDF files as a dataset (no validation, no reasoning).

        Each item is `path` or `path=graph-iri`: triple formats go into the default graph, or into
        the named graph given after `=`; quad formats (TriG, N-Quads) keep their own graphs. The
        version is a hash of the file contents and graph names, so caches and ETags follow the data."""
        import hashlib

        store = ox.Store()
        digest = hashlib.sha256()
        for spec in paths:
            path, _, graph = str(spec).partition("=")
            fmt = ox.RdfFormat.from_extension(Path(path).suffix.lstrip(".")) or ox.RdfFormat.TURTLE
            to_graph = ox.NamedNode(graph) if graph else ox.DefaultGraph()
            if fmt in (ox.RdfFormat.N_QUADS, ox.RdfFormat.TRIG):
                if graph:
                    raise ValueError(f"{path}: a quad format keeps its own graphs; drop '={graph}'")
                store.bulk_load(path=path, format=fmt)
            else:
                store.bulk_load(path=path, format=fmt, to_graph=to_graph)
            digest.update(Path(path).read_bytes())
            digest.update(b"\0" + graph.encode() + b"\0")
        ds = cls(store=store, version=version or "files-" + digest.hexdigest()[:12],
                 meta={"files": [str(p) for p in paths]})
        ds.meta["stats"] = compute_stats(ds)
        return ds


def freeze(named_graphs: dict, version: str, meta: dict) -> FrozenDataset:
    """Turn {graph IRI: iterable of rdflib triples} into a FrozenDataset."""
    from rdflib import BNode, Literal

    def conv(t):
        if isinstance(t, BNode):
            return ox.BlankNode(str(t))
        if isinstance(t, Literal):
            if t.language:
                return ox.Literal(str(t), language=t.language)
            if t.datatype:
                return ox.Literal(str(t), datatype=ox.NamedNode(str(t.datatype)))
            return ox.Literal(str(t))
        return ox.NamedNode(str(t))

    store = ox.Store()
    quads = []
    for name, triples in named_graphs.items():
        g = ox.NamedNode(str(name))
        quads.extend(ox.Quad(conv(s), conv(p), conv(o), g) for s, p, o in triples)
    store.extend(quads)
    ds = FrozenDataset(store=store, version=version, meta=dict(meta))
    ds.meta["stats"] = compute_stats(ds)
    return ds


STATS_QUERIES = {
    "entities_per_class": """
        PREFIX ck: <https://w3id.org/chainkg/ontology#>
        SELECT ?class (COUNT(DISTINCT ?s) AS ?n) WHERE {
          ?s a ?class . FILTER(STRSTARTS(STR(?class), STR(ck:)))
          FILTER(STRSTARTS(STR(?s), "https://w3id.org/chainkg/id/"))
        } GROUP BY ?class ORDER BY DESC(?n) ?class""",
    "claims_per_source": """
        PREFIX ck: <https://w3id.org/chainkg/ontology#>
        PREFIX prov: <http://www.w3.org/ns/prov#>
        SELECT ?source (COUNT(DISTINCT ?claim) AS ?claims) (COUNT(*) AS ?triples) WHERE {
          ?claim a ck:Claim ; prov:wasDerivedFrom ?source .
          GRAPH ?claim { ?s ?p ?o }
        } GROUP BY ?source ORDER BY ?source""",
}


def compute_stats(ds: FrozenDataset) -> dict:
    per_graph: dict[str, int] = {}
    claims = 0
    claim_triples = 0
    for name in ds.graph_names():
        n = ds.count(name)
        if name.startswith("https://w3id.org/chainkg/claim/"):
            claims += 1
            claim_triples += n
        else:
            per_graph[name] = n
    rows = ds.select(STATS_QUERIES["entities_per_class"])
    per_source = ds.select(STATS_QUERIES["claims_per_source"])
    distinct = {
        "union": ds.select("SELECT (COUNT(*) AS ?n) WHERE { { SELECT DISTINCT ?s ?p ?o { GRAPH ?g { ?s ?p ?o } } } }")[0]["n"],
    }
    return {
        "quads": len(ds.store),
        "distinct_triples": int(distinct["union"]),
        "graphs": per_graph,
        "claim_graphs": claims,
        "claim_triples": claim_triples,
        "ontology_triples": per_graph.get(ONTOLOGY_GRAPH, 0),
        "inferred_triples": per_graph.get(INFERRED_GRAPH, 0),
        "entities_per_class": {r["class"]: int(r["n"]) for r in rows},
        "claims_per_source": {r["source"]: {"claims": int(r["claims"]), "triples": int(r["triples"])} for r in per_source},
    }
