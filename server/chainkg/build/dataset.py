"""Step 4: the frozen dataset. Immutable, versioned by the hash of its inputs, held in an
in-memory Oxigraph store (thread-safe reads, fast SPARQL) and cached on disk as N-Quads.

Loading a cached dataset imports neither rdflib nor pySHACL nor owlrl: a restart with
unchanged inputs only hashes the input files and bulk-loads one N-Quads file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
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
    "graph": "https://w3id.org/chainkg/graph/",
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
POINTER_FILE = "CURRENT"  # the version of the last build saved and verified
CACHE_KEY = "cache"  # meta.json: {"version", "files": {name: {"sha256", "quads", "bytes"}}}
VERSION_RE = re.compile(r"[0-9a-f]{16}")


def term_value(term) -> str | None:
    """A result term as a plain Python string (IRI, lexical form, or blank node label)."""
    if term is None:
        return None
    return term.value


@dataclass
class FrozenDataset:
    """`store` holds the named graphs only (what dumps and pages read). Queries run on two
    derived stores whose default graph is the *distinct* union (Oxigraph's own union default
    graph is a multiset: a triple stated by three claims would count three times).

    `stale` is True when this is the last good build served because the current inputs did
    not build; `build_error` then holds why (the pipeline's one-line-per-error text)."""

    store: ox.Store
    version: str
    meta: dict = field(default_factory=dict)
    stale: bool = False
    build_error: str | None = None
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
        kwargs: dict = {"prefixes": PREFIXES}  # predeclared, as on /sparql; the query's own PREFIX wins
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
        """Write to cache_dir/<version>/ atomically: the N-Quads file and a meta.json that records
        its sha256 and quad count, built in a hidden temp folder, fsynced, then renamed into place.
        A kill at any moment leaves either no folder or a complete one; the pointer file CURRENT
        (the last good build, for serving when the inputs break) is replaced only after the new
        folder has been read back and verified."""
        cache_dir.mkdir(parents=True, exist_ok=True)
        final = cache_dir / self.version
        tmp = Path(tempfile.mkdtemp(prefix=f".{self.version}-", dir=cache_dir))
        trash = None
        try:
            nq = tmp / DATASET_FILE
            self.store.dump(str(nq), ox.RdfFormat.N_QUADS)
            data = nq.read_bytes()
            meta = dict(self.meta)
            meta[CACHE_KEY] = {
                "version": self.version,
                "files": {DATASET_FILE: {"sha256": hashlib.sha256(data).hexdigest(), "quads": len(self.store),
                                         "bytes": len(data)}},
            }
            _write_synced(tmp / META_FILE, json.dumps(meta, ensure_ascii=False, indent=1).encode())
            _fsync(nq)
            if final.exists():  # a folder that failed verification: move it aside, never serve it
                trash = Path(tempfile.mkdtemp(prefix=f".trash-{self.version}-", dir=cache_dir))
                os.replace(final, trash / self.version)
            try:
                os.replace(tmp, final)
            except OSError:
                if not final.exists():
                    raise  # otherwise another process saved the same version meanwhile: keep theirs
            _fsync(cache_dir)
        finally:
            for leftover in (tmp, trash):
                if leftover is not None and leftover.exists():
                    shutil.rmtree(leftover, ignore_errors=True)
        verify(cache_dir, self.version)  # read back: the pointer only ever names a folder that verifies
        _write_synced(cache_dir / POINTER_FILE, (self.version + "\n").encode(), atomic=True)
        self.meta = meta
        return final

    @classmethod
    def load(cls, cache_dir: Path, version: str) -> FrozenDataset | None:
        """The cached dataset of this version, verified; None when there is none.
        Raises CacheError (one line: what does not match) when the folder exists but does not verify."""
        if not (cache_dir / version).exists():
            return None
        store, meta = verify(cache_dir, version)
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


class CacheError(Exception):
    """A cached build that does not prove itself; str() is one line saying what does not match."""


def _fsync(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_synced(path: Path, data: bytes, *, atomic: bool = False) -> None:
    target = path.with_name(f".{path.name}.{os.getpid()}.tmp") if atomic else path
    with open(target, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    if atomic:
        os.replace(target, path)


def verify(cache_dir: Path, version: str) -> tuple[ox.Store, dict]:
    """Read cache_dir/<version>/ and check it against its meta.json: the meta parses and has every
    key, the N-Quads file has the recorded sha256 and parses into the recorded number of quads.
    Returns (store, meta); raises CacheError naming the first thing that does not match."""
    folder = cache_dir / version
    meta_path, nq_path = folder / META_FILE, folder / DATASET_FILE
    try:
        meta = json.loads(meta_path.read_bytes())
    except FileNotFoundError:
        raise CacheError(f"{meta_path}: missing") from None
    except (OSError, ValueError) as e:
        raise CacheError(f"{meta_path}: unreadable ({type(e).__name__}: {e})") from None
    try:
        cache = meta[CACHE_KEY]
        entry = cache["files"][DATASET_FILE]
        expected_sha, expected_quads = entry["sha256"], entry["quads"]
        ok = (cache["version"] == version and isinstance(expected_sha, str) and len(expected_sha) == 64
              and isinstance(expected_quads, int) and isinstance(meta.get("stats"), dict))
    except (KeyError, TypeError):
        ok = False
    if not ok:
        raise CacheError(f"{meta_path}: lacks the checksum, quad count, version or stats of a verified build")
    try:
        data = nq_path.read_bytes()
    except OSError as e:
        raise CacheError(f"{nq_path}: unreadable ({type(e).__name__})") from None
    sha = hashlib.sha256(data).hexdigest()
    if sha != expected_sha:
        raise CacheError(f"{nq_path}: sha256 {sha[:12]}... does not match meta.json's {expected_sha[:12]}... "
                         f"({len(data)} bytes)")
    store = ox.Store()
    try:
        # parse + extend (not bulk_load, which renames blank nodes on every load) keeps
        # blank-node labels stable across restarts, so dumps are byte-reproducible
        store.extend(ox.parse(input=data, format=ox.RdfFormat.N_QUADS))
    except (SyntaxError, ValueError, OSError) as e:
        raise CacheError(f"{nq_path}: does not parse ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    if len(store) != expected_quads:
        raise CacheError(f"{nq_path}: {len(store)} quads, meta.json records {expected_quads}")
    return store, meta


def cached_versions(cache_dir: Path) -> list[str]:
    """Versions with a cache folder, newest first: the one CURRENT names, then by modification time."""
    if not cache_dir.is_dir():
        return []
    folders = [p for p in cache_dir.iterdir() if p.is_dir() and VERSION_RE.fullmatch(p.name)]
    folders.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    names = [p.name for p in folders]
    try:
        pointed = (cache_dir / POINTER_FILE).read_bytes().decode("ascii", "replace").strip()
    except OSError:
        pointed = ""
    if pointed in names:
        names.remove(pointed)
        names.insert(0, pointed)
    return names


def freeze(named_graphs: dict, version: str, meta: dict) -> FrozenDataset:
    """Turn {graph IRI: iterable of rdflib triples} into a FrozenDataset."""
    from chainkg.build.terms import to_ox as conv

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
