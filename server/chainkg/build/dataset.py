"""Step 4: the frozen dataset. Immutable, versioned by the hash of its inputs, and cached on disk
as N-Quads plus two on-disk Oxigraph (RocksDB) stores that every process opens read-only:

    build/cache/<version>/dataset.nq   the named graphs (the portable copy)
                         /store/       every named graph + their distinct union as default graph
                         /asserted/    the asserted named graphs + their distinct union as default graph
                         /meta.json    stats, and the BLAKE3 digest and size of every file above, quad counts

A build is frozen in memory, saved, then served from the saved stores (as is a cached restart):
the server's processes (master, web workers, query evaluators) share the data through the OS page
cache instead of each holding a copy. Each process opens its own read-only handles, on its first
use after a fork (`OpenStores`): RocksDB does not promise that a handle opened before fork() works
in the child. Loading a cached dataset imports neither rdflib nor pySHACL
nor owlrl: a restart with unchanged inputs hashes the input files and the cache files and opens
two stores.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import blake3
import pyoxigraph as ox

from chainkg.build.load import INFERRED_GRAPH, ONTOLOGY_GRAPH, is_derivation_group, is_derived_graph

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
CACHE_KEY = "cache"  # meta.json: {"version", "files": {name: {DIGEST, "quads", "bytes"}}}
DIGEST = "blake3"  # the key of each file's digest (a cache saved with sha256 keys is rebuilt)
VERSION_RE = re.compile(r"[0-9a-f]{16}")
STORE_DIR = "store"  # on-disk store: every named graph, default graph = their distinct union
ASSERTED_DIR = "asserted"  # on-disk store: the asserted named graphs, default graph = their distinct union
STORES = (STORE_DIR, ASSERTED_DIR)
_NOT_DATA = ("LOCK", "LOG")  # RocksDB's lock and info log (LOG, LOG.old.*): not hashed


# handles opened by a parent process, kept referenced in a forked child and never closed there:
# closing a RocksDB handle runs its destructor, which may wait on locks or threads of the parent
_INHERITED: list = []


class OpenStores:
    """The read-only on-disk stores of one cache folder, opened by the process that uses them: a
    process forked after they were opened (a web worker, the evaluator zygote, an evaluator) opens
    its own, each on its first use there, instead of using the parent's RocksDB handles (opening
    one starts three RocksDB threads in the parent, whose locks a fork could copy mid-use). The
    inherited handles are kept referenced, never used nor closed in the child. Opening costs
    about 10 MB private and 0.15-0.6 s for both stores at 800k quads (`last_open_s`), and no copy
    of the data: the files are shared through the page cache."""

    def __init__(self, folder: Path, stores: dict):
        self.folder, self.stores, self.pid = folder, dict(stores), os.getpid()
        self.last_open_s = 0.0

    def get(self, name: str) -> ox.Store:
        if self.pid != os.getpid():  # forked: the handles are the parent's
            _INHERITED.append(self.stores)
            self.stores, self.pid, self.last_open_s = {}, os.getpid(), 0.0
        store = self.stores.get(name)
        if store is None:
            import time

            t = time.perf_counter()
            store = self.stores[name] = ox.Store.read_only(str(self.folder / name))
            self.last_open_s += time.perf_counter() - t
        return store

    def open_here(self, names=(STORE_DIR,)) -> float:
        """Open this process's own handles of these stores now; the seconds it took (0 when this
        process already has them)."""
        before = self.last_open_s if self.pid == os.getpid() else 0.0
        for name in names:
            self.get(name)
        return self.last_open_s - before


def term_value(term) -> str | None:
    """A result term as a plain Python string (IRI, lexical form, or blank node label)."""
    if term is None:
        return None
    return term.value


class NamedGraphs:
    """The named graphs of an on-disk store, read-only: what `FrozenDataset.store` is for a dataset
    served from the cache. The store's default graph holds the distinct union (for queries); this
    view leaves it out, so iterating, counting and `quads_for_pattern(..., None)` see exactly the
    named graphs, as with the in-memory store of a fresh build.

    A whole pass (iterating, or a pattern with nothing bound) reads the verified N-Quads file the
    store was loaded from: the same quads with the same blank-node labels, in the order of the
    in-memory store of a fresh build (so dumps do not change with a restart), and several times
    faster than decoding every term from the on-disk store."""

    def __init__(self, store: ox.Store | OpenStores, quads: int, nquads: Path):
        self._handles = store if isinstance(store, OpenStores) else None
        self._fixed = None if self._handles else store
        self._quads, self._nquads = quads, nquads

    @property
    def _store(self) -> ox.Store:
        return self._handles.get(STORE_DIR) if self._handles is not None else self._fixed

    def quads_for_pattern(self, subject=None, predicate=None, object=None, graph_name=None):  # noqa: A002
        if subject is None and predicate is None and object is None and graph_name is None:
            return ox.parse(path=str(self._nquads), format=ox.RdfFormat.N_QUADS)
        if graph_name is None:
            return (q for q in self._store.quads_for_pattern(subject, predicate, object, None)
                    if not isinstance(q.graph_name, ox.DefaultGraph))
        if isinstance(graph_name, ox.DefaultGraph):
            return iter(())
        return self._store.quads_for_pattern(subject, predicate, object, graph_name)

    def __iter__(self):
        return self.quads_for_pattern()

    def __len__(self) -> int:
        return self._quads  # counted when saved; the files are checked against their digests when opened

    def __contains__(self, quad) -> bool:
        return not isinstance(quad.graph_name, ox.DefaultGraph) and quad in self._store

    def named_graphs(self):
        return self._store.named_graphs()

    def contains_named_graph(self, graph_name) -> bool:
        return self._store.contains_named_graph(graph_name)

    def query(self, sparql: str, **kwargs):
        """SPARQL on the named graphs: the default graph is empty unless `default_graph` names graphs."""
        if "default_graph" not in kwargs and not kwargs.get("use_default_graph_as_union"):
            kwargs["default_graph"] = []
        return self._store.query(sparql, **kwargs)

    def dump(self, output=None, format=None, **kwargs):  # noqa: A002
        return ox.serialize(iter(self), output, format, **kwargs)


@dataclass
class FrozenDataset:
    """`store` holds the named graphs only (what dumps and pages read). Queries run on two
    stores whose default graph is the *distinct* union (Oxigraph's own union default graph is a
    multiset: a triple stated by three claims would count three times): `union_store` (every
    graph) and `asserted_store` (without graph/inferred).

    Served from the cache (`load`, and a fresh build once `save`d), all three are the on-disk
    stores of the version's folder, opened read-only (`location` is that folder). A dataset built
    in memory (`freeze`, `from_files`) derives its union stores in memory on first use; call
    `prepare()` before forking processes that query it, so they share them.

    `stale` is True when this is the last good build served because the current inputs did
    not build; `build_error` then holds why (the pipeline's one-line-per-error text)."""

    store: ox.Store | NamedGraphs
    version: str
    meta: dict = field(default_factory=dict)
    stale: bool = False
    build_error: str | None = None
    union: ox.Store | None = field(default=None, repr=False)
    asserted: ox.Store | None = field(default=None, repr=False)
    location: Path | None = None
    handles: OpenStores | None = field(default=None, repr=False)  # on disk: this process's own handles

    @property
    def union_store(self) -> ox.Store:
        if self.handles is not None:
            return self.handles.get(STORE_DIR)
        if self.union is None:
            self.union = _union_in_memory(self.store, asserted_only=False)
        return self.union

    @property
    def asserted_store(self) -> ox.Store:
        if self.handles is not None:
            return self.handles.get(ASSERTED_DIR)
        if self.asserted is None:
            self.asserted = _union_in_memory(self.store, asserted_only=True)
        return self.asserted

    @property
    def on_disk(self) -> bool:
        return self.location is not None

    def prepare(self) -> FrozenDataset:
        """Derive the union stores now (nothing to do on disk): before a fork, so that the forked
        processes share them instead of each deriving its own."""
        if self.handles is None:
            _ = self.union_store, self.asserted_store
        return self

    def open_here(self) -> float:
        """After a fork: open this process's own handle of the union store now rather than on first
        use (an evaluator does so before it reports ready; the asserted store, for inferred=false,
        opens on first use). Returns the seconds it took (0 in memory, or when already open here)."""
        return 0.0 if self.handles is None else self.handles.open_here()

    # -- graphs ---------------------------------------------------------------
    def graph_names(self) -> list[str]:
        return sorted(g.value for g in self.store.named_graphs())

    def asserted_graphs(self) -> list:
        return [ox.NamedNode(g) for g in self.graph_names() if not is_derived_graph(g)]

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
        if default_graph is not None:  # the named graphs alone: no union store is derived for this
            kwargs["default_graph"] = default_graph
            store = self.store
        else:
            store = self.asserted_store if asserted_only else self.union_store
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
    def save(self, cache_dir: Path, ahead: AssertedAhead | None = None) -> Path:
        """Write to cache_dir/<version>/ atomically: the N-Quads file, the two on-disk stores and a
        meta.json that records the BLAKE3 digest and size of every file and the quad counts, built in a
        hidden temp folder, fsynced, then renamed into place. A kill at any moment leaves either no
        folder or a complete one; the pointer file CURRENT (the last good build, for serving when
        the inputs break) is replaced only after the new folder has been read back and verified.
        From then on this dataset is served from the saved stores (its in-memory copy is dropped).

        `ahead`: the asserted store, written earlier by the build (`AssertedAhead`), moved in and
        completed instead of written again."""
        cache_dir.mkdir(parents=True, exist_ok=True)
        final = cache_dir / self.version
        tmp = Path(tempfile.mkdtemp(prefix=f".{self.version}-", dir=cache_dir))
        trash = None
        try:
            nq = tmp / DATASET_FILE
            self.store.dump(str(nq), ox.RdfFormat.N_QUADS)
            quads = len(self.store)
            stores = {}  # one after the other: at 3.6M quads, two writers at once took as long (67 s against 61)
            for name in STORES:  # and raised the peak RSS from 5.6 to 6.9 GB
                if name == ASSERTED_DIR and ahead is not None and ahead.entry is not None:
                    stores[name] = ahead.complete(tmp / name, self.store)
                else:
                    stores[name] = _write_store(tmp / name, self.store, asserted_only=name == ASSERTED_DIR)
            digest, size, _ = _digest(nq)
            meta = dict(self.meta)
            meta[CACHE_KEY] = {
                "version": self.version,
                "files": {DATASET_FILE: {DIGEST: digest, "quads": quads, "bytes": size}},
                "stores": stores,
            }
            _write_synced(tmp / META_FILE, json.dumps(meta, ensure_ascii=False, indent=1).encode())
            for path in [nq] + [tmp / name / f for name in STORES for f in stores[name]["files"]]:
                _fsync(path)
            for folder in [tmp / name for name in STORES] + [tmp]:
                _fsync(folder)
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
        # read back: the pointer only ever names a folder that verifies; then serve what was saved
        opened, meta = verify(cache_dir, self.version)
        _write_synced(cache_dir / POINTER_FILE, (self.version + "\n").encode(), atomic=True)
        self._serve_from(opened, meta, final)
        return final

    def _serve_from(self, stores: dict, meta: dict, folder: Path) -> None:
        self.handles = OpenStores(folder, stores)
        self.store = NamedGraphs(self.handles, meta[CACHE_KEY]["stores"][STORE_DIR]["quads"], folder / DATASET_FILE)
        self.union = self.asserted = None
        self.meta, self.location = meta, folder

    @classmethod
    def load(cls, cache_dir: Path, version: str) -> FrozenDataset | None:
        """The cached dataset of this version, verified, served from its on-disk stores (opened
        read-only); None when there is none. Raises CacheError (one line: what does not match)
        when the folder exists but does not verify."""
        if not (cache_dir / version).exists():
            return None
        stores, meta = verify(cache_dir, version)
        ds = cls(store=ox.Store(), version=version)
        ds._serve_from(stores, meta, cache_dir / version)
        return ds

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


class AssertedAhead:
    """The asserted on-disk store, written while the build still reasons (by the child process
    that checked the asserted data: the machine's second core is idle once the checks are done)
    from the asserted graphs as loaded, then completed at `save` with what the build added to
    them afterwards: the reviewed links, the imports, the alignments and their provenance
    (chainkg.integrate.step adds, never removes). `folder` is a hidden folder in the cache folder
    (the same file system: the store is moved into the saved build, not copied), which the build
    also uses for its other temporary files; `discard` removes it at the end of the build. The
    build holds a lock on it: a folder whose lock nobody holds was left by a killed build and is
    removed by the next one."""

    def __init__(self, cache_dir: Path):
        import fcntl

        for old in cache_dir.glob(".asserted-*"):  # a killed build's: nobody holds its lock any more
            try:
                with open(old / "lock", "rb") as f:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # a build running now
                continue
            except OSError:  # no lock file (or no folder): left half-made
                pass
            shutil.rmtree(old, ignore_errors=True)
        self.folder = Path(tempfile.mkdtemp(prefix=".asserted-", dir=cache_dir))
        self._lock = open(self.folder / "lock", "wb")  # noqa: SIM115 - held while this build lives
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        self.entry: dict | None = None  # _write_store's meta.json entry, once written
        self.graphs: frozenset = frozenset()  # the named graphs written
        self.touched: set = set()  # graphs the build added to after the store was written

    def write(self, named: ox.Store, union: ox.Store) -> dict:
        """Write the store from `named` (the asserted graphs) and `union` (their distinct union as
        default graph); returns what `written` takes. Called in the forked checking child, which
        hands the writing to a new process (chainkg.build.forked.Spawned, dying with it) through an
        N-Quads and an N-Triples file: RocksDB runs process-wide background threads, which a forked
        child lacks, so a store written in the child of a process that had already opened one
        waits for them forever."""
        from chainkg.build.forked import Spawned, StepDied, StepFailed

        nq, nt = self.folder / "asserted.nq", self.folder / "union.nt"
        try:
            named.dump(str(nq), ox.RdfFormat.N_QUADS)
            union.dump(str(nt), ox.RdfFormat.N_TRIPLES, from_graph=ox.DefaultGraph())
            try:
                entry = Spawned(_load_store_files, self.folder / ASSERTED_DIR, nq, nt, workdir=self.folder).result()
            except (StepFailed, StepDied) as e:
                raise CacheError(f"writing the asserted store failed: {e}") from None
        finally:
            for f in (nq, nt):
                f.unlink(missing_ok=True)
        return {"entry": entry, "graphs": frozenset(g.value for g in named.named_graphs())}

    def written(self, result: dict) -> None:
        self.entry, self.graphs = result["entry"], result["graphs"]

    def complete(self, folder: Path, named) -> dict:
        """Move the store to `folder` and add the asserted quads of `named` (the frozen dataset's
        store) in graphs it lacks or that were added to since: its meta.json entry."""
        os.replace(self.folder / ASSERTED_DIR, folder)
        late = [g for g in named.named_graphs()
                if not is_derived_graph(g.value) and (g.value not in self.graphs or g.value in self.touched)]
        if not late:
            return self.entry

        def add_late(store: ox.Store) -> None:  # the bulk loader: an import can be large
            store.bulk_extend(_with_union((q for g in late for q in named.quads_for_pattern(None, None, None, g)),
                                          False))

        return _fill_store(folder, add_late)

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self._lock.close()


def _write_store(folder: Path, named, *, asserted_only: bool) -> dict:
    """Bulk-load an on-disk store at `folder` (new) with the named graphs (all, or all but
    graph/inferred) and their distinct union as default graph; close it. Returns its meta.json
    entry: named quads, default-graph triples, and the BLAKE3 digest and size of each of its files."""

    def bulk(store: ox.Store) -> int:
        counter = [0]
        store.bulk_extend(_with_union(named, asserted_only, counter))
        return counter[0]

    return _fill_store(folder, bulk)


def _load_store_files(folder: Path, nquads: Path, ntriples: Path) -> dict:
    """A new on-disk store at `folder` bulk-loaded from the named graphs (an N-Quads file) and their
    distinct union (an N-Triples file, into the default graph): its meta.json entry."""

    def load_files(store: ox.Store) -> None:  # bulk_load would rename the blank nodes: parse keeps them
        store.bulk_extend(ox.parse(path=str(nquads), format=ox.RdfFormat.N_QUADS))
        store.bulk_extend(ox.parse(path=str(ntriples), format=ox.RdfFormat.N_TRIPLES))

    return _fill_store(folder, load_files)


def _fill_store(folder: Path, fill) -> dict:
    """Open the on-disk store at `folder` (created if new), `fill(store)` it (returning the named
    quads it holds, or None to count them here), optimize and close it: its meta.json entry
    (named quads, default-graph triples, each file's BLAKE3 digest and size)."""
    store = ox.Store(str(folder))
    try:
        quads = fill(store)
        store.optimize()
        store.flush()
        union = int(next(iter(store.query("SELECT (COUNT(*) AS ?n) { ?s ?p ?o }")))[0].value)
        if quads is None:
            quads = int(next(iter(store.query("SELECT (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } }")))[0].value)
    finally:
        del store  # closes the database: its files do not change after this
        import gc

        gc.collect()
    files = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(_NOT_DATA):
            continue
        digest, size, _ = _digest(path)
        files[path.name] = {DIGEST: digest, "bytes": size}
    return {"quads": quads, "default_triples": union, "files": files}


def _digest(path: Path, count_lines: bool = False) -> tuple[str, int, int]:
    """(hex BLAKE3 digest, size, number of lines if count_lines else 0) of a file, in one pass, read
    in chunks (blake3 releases the GIL: threads hash several files in parallel). BLAKE3, not sha256:
    on this machine's cores (no SHA extensions) it hashes 2.3 GB/s against 0.46, and a cached restart
    reads every file of the build."""
    h, size, lines = blake3.blake3(), 0, 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
            size += len(chunk)
            if count_lines:
                lines += chunk.count(b"\n")
    return h.hexdigest(), size, lines


def _union_in_memory(named, *, asserted_only: bool) -> ox.Store:
    """An in-memory store with the named graphs (all, or the asserted ones) and their distinct
    union as default graph (a store is a set: a triple added twice is there once)."""
    store = ox.Store()
    store.extend(_with_union(named, asserted_only))
    return store


def _with_union(named, asserted_only: bool, counter: list | None = None):
    """Each named quad (all, or all but graph/inferred) of a store (or of an iterable of quads),
    followed by its triple in the default graph. `counter[0]` counts the named quads yielded."""
    derived: dict = {}  # graph node -> is_derived_graph (inferred, inferred-schema, derivations, derivation/*)
    n = 0
    quads = named.quads_for_pattern(None, None, None, None) if hasattr(named, "quads_for_pattern") else named
    for q in quads:
        if isinstance(q.graph_name, ox.DefaultGraph) or (asserted_only and _derived(q.graph_name, derived)):
            continue
        n += 1
        yield q
        yield ox.Quad(q.subject, q.predicate, q.object)
    if counter is not None:
        counter[0] = n


def _derived(graph, memo: dict) -> bool:
    d = memo.get(graph)
    if d is None:
        d = memo[graph] = is_derived_graph(graph.value)
    return d


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


def verify(cache_dir: Path, version: str) -> tuple[dict, dict]:
    """Check cache_dir/<version>/ against its meta.json and open its stores: the meta parses and has
    every key; the N-Quads file has the recorded digest and number of quads (one per line); each
    store folder holds exactly the recorded files with their recorded sizes and digests (a partial,
    damaged or altered store does not pass), and opens read-only.
    Returns ({store folder name: read-only ox.Store}, meta); raises CacheError naming the first
    thing that does not match."""
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
        expected_sha, expected_quads = entry[DIGEST], entry["quads"]
        ok = (cache["version"] == version and isinstance(expected_sha, str) and len(expected_sha) == 64
              and isinstance(expected_quads, int) and isinstance(meta.get("stats"), dict))
    except (KeyError, TypeError):
        ok = False
    if not ok:
        raise CacheError(f"{meta_path}: lacks the checksum, quad count, version or stats of a verified build")
    stores = cache.get("stores")
    if not (isinstance(stores, dict) and all(_store_entry_ok(stores.get(name)) for name in STORES)):
        raise CacheError(f"{meta_path}: lacks the files and counts of the on-disk stores (saved by an older "
                         "chainkg, or altered)")

    # hash every recorded file (threads: blake3 releases the GIL), then compare in a fixed order
    paths = [nq_path] + [folder / name / f for name in STORES for f in sorted(stores[name]["files"])]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        hashed = dict(zip(paths, pool.map(_digest_or_error, paths, [True] + [False] * (len(paths) - 1)), strict=True))
    got = hashed[nq_path]
    if isinstance(got, OSError):
        raise CacheError(f"{nq_path}: unreadable ({type(got).__name__})")
    if got[0] != expected_sha:
        raise CacheError(f"{nq_path}: {DIGEST} {got[0][:12]}... does not match meta.json's {expected_sha[:12]}... "
                         f"({got[1]} bytes)")
    try:  # its first and last quads, parsed here, must be in the store (checked once it is open)
        edges = [q for line in _edge_lines(nq_path) for q in ox.parse(input=line, format=ox.RdfFormat.N_QUADS)]
    except (SyntaxError, ValueError, OSError) as e:
        raise CacheError(f"{nq_path}: does not parse ({str(e).splitlines()[0] if str(e) else type(e).__name__})") \
            from None
    lines = got[2]  # N-Quads: one quad a line
    if lines != expected_quads:
        raise CacheError(f"{nq_path}: {lines} quads, meta.json records {expected_quads}")
    opened = {}
    for name in STORES:
        entry = stores[name]
        where = folder / name
        if not where.is_dir():
            raise CacheError(f"{where}: missing (the on-disk store)")
        present = sorted(p.name for p in where.iterdir() if not p.name.startswith(_NOT_DATA))
        extra = [f for f in present if f not in entry["files"]]
        if extra:
            raise CacheError(f"{where}: holds {extra[0]}, which meta.json does not record")
        if name == STORE_DIR and entry["quads"] != expected_quads:
            raise CacheError(f"{where}: {entry['quads']} named quads, the N-Quads file {expected_quads}")
        for f in sorted(entry["files"]):
            got, want = hashed[where / f], entry["files"][f]
            if isinstance(got, OSError):
                raise CacheError(f"{where / f}: {'missing' if isinstance(got, FileNotFoundError) else 'unreadable'} "
                                 f"({type(got).__name__})")
            if got[1] != want["bytes"]:
                raise CacheError(f"{where / f}: {got[1]} bytes, meta.json records {want['bytes']} (partial or damaged)")
            if got[0] != want[DIGEST]:
                raise CacheError(f"{where / f}: {DIGEST} {got[0][:12]}... does not match meta.json's "
                                 f"{want[DIGEST][:12]}...")
        try:
            opened[name] = ox.Store.read_only(str(where))
        except OSError as e:
            raise CacheError(f"{where}: does not open ({str(e).splitlines()[0] if str(e) else type(e).__name__})") \
                from None
    for quad in edges:
        if quad not in opened[STORE_DIR]:
            raise CacheError(f"{folder / STORE_DIR}: does not hold {quad} of {DATASET_FILE}")
    return opened, meta


def _edge_lines(path: Path) -> list[bytes]:
    """The first and the last line of a file (one line if it has one)."""
    with open(path, "rb") as f:
        first = f.readline()
        size = f.seek(0, os.SEEK_END)
        f.seek(max(len(first), size - (1 << 20)))
        tail = f.read().rstrip(b"\n").rsplit(b"\n", 1)[-1]
    return [first] + ([tail + b"\n"] if tail and size > len(first) else [])


def _store_entry_ok(entry) -> bool:
    try:
        return (isinstance(entry["quads"], int) and isinstance(entry["default_triples"], int)
                and isinstance(entry["files"], dict) and len(entry["files"]) > 0
                and all(isinstance(f, str) and "/" not in f and f not in ("", ".", "..")
                        and isinstance(v[DIGEST], str) and len(v[DIGEST]) == 64 and isinstance(v["bytes"], int)
                        for f, v in entry["files"].items()))
    except (KeyError, TypeError):
        return False


def _digest_or_error(path: Path, count_lines: bool = False):
    try:
        return _digest(path, count_lines)
    except OSError as e:
        return e


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


# On the named graphs (GRAPH patterns, DISTINCT where a triple stated in several graphs would count
# twice): the statistics of a fresh build need no union store.
STATS_QUERIES = {
    "entities_per_class": """
        PREFIX ck: <https://w3id.org/chainkg/ontology#>
        SELECT ?class (COUNT(DISTINCT ?s) AS ?n) WHERE {
          GRAPH ?g { ?s a ?class } FILTER(STRSTARTS(STR(?class), STR(ck:)))
          FILTER(STRSTARTS(STR(?s), "https://w3id.org/chainkg/id/"))
        } GROUP BY ?class ORDER BY DESC(?n) ?class""",
    "claims_per_source": """
        PREFIX ck: <https://w3id.org/chainkg/ontology#>
        PREFIX prov: <http://www.w3.org/ns/prov#>
        SELECT ?source (COUNT(DISTINCT ?claim) AS ?claims) (COUNT(*) AS ?triples) WHERE {
          { SELECT DISTINCT ?claim ?source WHERE {
              GRAPH ?g1 { ?claim a ck:Claim } GRAPH ?g2 { ?claim prov:wasDerivedFrom ?source } } }
          GRAPH ?claim { ?s ?p ?o }
        } GROUP BY ?source ORDER BY ?source""",
}


def compute_stats(ds: FrozenDataset) -> dict:
    per_graph: dict[str, int] = {}
    claims = 0
    claim_triples = 0
    groups = group_triples = 0  # the derivation groups' graphs (derivation/...): counted together, as claims
    for name in ds.graph_names():
        n = ds.count(name)
        if name.startswith("https://w3id.org/chainkg/claim/"):
            claims += 1
            claim_triples += n
        elif is_derivation_group(name):
            groups += 1
            group_triples += n
        else:
            per_graph[name] = n
    named = {"default_graph": []}  # the named graphs only: no union store is derived for this
    rows = ds.select(STATS_QUERIES["entities_per_class"], **named)
    per_source = ds.select(STATS_QUERIES["claims_per_source"], **named)
    distinct = {
        "union": ds.select("SELECT (COUNT(*) AS ?n) WHERE { { SELECT DISTINCT ?s ?p ?o { GRAPH ?g { ?s ?p ?o } } } }",
                           **named)[0]["n"],
    }
    return {
        "quads": len(ds.store),
        "distinct_triples": int(distinct["union"]),
        "graphs": per_graph,
        "claim_graphs": claims,
        "claim_triples": claim_triples,
        "derivation_graphs": groups,
        "derivation_graph_triples": group_triples,
        "ontology_triples": per_graph.get(ONTOLOGY_GRAPH, 0),
        "inferred_triples": per_graph.get(INFERRED_GRAPH, 0),
        "entities_per_class": {r["class"]: int(r["n"]) for r in rows},
        "claims_per_source": {r["source"]: {"claims": int(r["claims"]), "triples": int(r["triples"])} for r in per_source},
    }
