#!/usr/bin/env python
"""The incremental rebuild's parts on a built project (issue #11; not a test).

    .venv/bin/python scripts/benchmark_incremental.py PROJECT [--file NAME]

PROJECT is a built project folder (for the scale goals: `scripts/generate_graph.py 1e6 OUT`, then
`chainkg --root OUT build`). Two edits are made on copies of its last build's stores, in a temporary
folder (the build itself is not touched): a file of claims taken out (NAME, default the first of
triples/), and a new one put in (that file with every IRI under id/ and claim/ renamed). For each,
the seconds of each part of build/incremental.py: the asserted changes, the closure and the derived
graphs (derived_changes), a checkpoint of both stores, the patch, dataset.nq rewritten and the
statistics updated. The shapes, which the build does not yet run incrementally, are not in it.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "server"))

import pyoxigraph as ox  # noqa: E402

from chainkg.build.dataset import ASSERTED_DIR, DATASET_FILE, POINTER_FILE, STORE_DIR  # noqa: E402
from chainkg.build.incremental import (  # noqa: E402
    AssertedChanges,
    Rules,
    StoreDerivations,
    StoreFacts,
    derived_changes,
    graph_triples,
    patch,
    rewrite_nquads,
    updated_stats,
)
from chainkg.build.load import (  # noqa: E402
    INFERRED_GRAPH,
    INFERRED_SCHEMA_GRAPH,
    ONTOLOGY_GRAPH,
    PROVENANCE_GRAPH,
)
from chainkg.config import BASE_IRI, Config  # noqa: E402

WAS_DERIVED_FROM = ox.NamedNode("http://www.w3.org/ns/prov#wasDerivedFrom")
RENAMED = re.compile(rb"<(" + re.escape(BASE_IRI.encode()) + rb"(?:id|claim)/[^>]*)>")


def read(path: Path) -> set:
    """The quads of a file of claims as a build holds them: its default graph in graph/provenance,
    numbers written as the store writes them."""
    prov = ox.NamedNode(PROVENANCE_GRAPH)
    store = ox.Store()
    for q in ox.parse(path=str(path), format=ox.RdfFormat.TRIG):
        store.add(q if not isinstance(q.graph_name, ox.DefaultGraph) else ox.Quad(q.subject, q.predicate, q.object, prov))
    return set(store.quads_for_pattern(None, None, None, None))


def edit(label: str, folder: Path, gone: set, came: set, meta: dict, work: Path) -> None:
    out = {}
    t = time.perf_counter()
    store = ox.Store.read_only(str(folder / STORE_DIR))
    asserted = ox.Store.read_only(str(folder / ASSERTED_DIR))
    old = StoreFacts(asserted, store, (INFERRED_GRAPH, INFERRED_SCHEMA_GRAPH))
    rules = Rules(graph_triples(store, ONTOLOGY_GRAPH), graph_triples(store, INFERRED_SCHEMA_GRAPH))
    out["open, rules"] = time.perf_counter() - t
    t = time.perf_counter()
    changes = AssertedChanges(old, gone, came)
    out["asserted changes"] = time.perf_counter() - t
    t = time.perf_counter()
    derived = derived_changes(rules, old, StoreDerivations(store), changes.removed, changes.added, changes.changed,
                              changes.stated)
    out["closure, derivations"] = time.perf_counter() - t
    t = time.perf_counter()
    here = Path(tempfile.mkdtemp(dir=work))
    store.backup(str(here / STORE_DIR))
    asserted.backup(str(here / ASSERTED_DIR))
    new_store, new_asserted = ox.Store(str(here / STORE_DIR)), ox.Store(str(here / ASSERTED_DIR))
    out["checkpoint"] = time.perf_counter() - t
    t = time.perf_counter()
    remove, add = changes.gone | derived.remove, changes.came | derived.add
    patched = patch(new_store, remove, add)
    patch(new_asserted, changes.gone, changes.came)
    new_store.flush()
    new_asserted.flush()
    out["patch"] = time.perf_counter() - t
    t = time.perf_counter()
    rewrite_nquads(folder / DATASET_FILE, here / DATASET_FILE, remove, add)
    out["dataset.nq"] = time.perf_counter() - t
    t = time.perf_counter()
    claims = {q.graph_name.value for q in changes.gone | changes.came}
    sources = {q.object.value for q in changes.gone | changes.came if q.predicate == WAS_DERIVED_FROM
               and q.subject.value in claims}
    updated_stats(meta["stats"], patched, new_store, sources)
    out["statistics"] = time.perf_counter() - t
    upd = derived.update
    print(f"\n{label}: {len(changes.gone)} quads gone, {len(changes.came)} came; {len(changes.removed)} triples no "
          f"longer asserted, {len(changes.added)} newly; inferred -{len(upd.gone)} +{len(upd.new)}; "
          f"{len(derived.settled)} derivations settled again, {derived.groups_described} groups described; "
          f"store {patched.named:+} named quads, {patched.union:+} union triples")
    for part, seconds in out.items():
        print(f"  {part:22s} {seconds:7.2f} s")
    print(f"  {'total':22s} {sum(out.values()):7.2f} s")


def main(argv=None) -> int:
    import json

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("project", type=Path)
    ap.add_argument("--file", help="the file of claims to take out and copy (default: the first in triples/)")
    args = ap.parse_args(argv)
    config = Config(root=args.project.resolve())
    pointer = config.cache_dir / POINTER_FILE
    if not pointer.is_file():
        ap.error(f"{args.project}: no build (build it first: chainkg --root {args.project} build)")
    folder = config.cache_dir / pointer.read_text().strip()
    meta = json.loads((folder / "meta.json").read_text())
    files = sorted(config.triples_dir.glob("*.trig"))
    path = config.triples_dir / args.file if args.file else files[0]
    if not path.is_file():
        ap.error(f"{path}: no such file of claims")
    print(f"build {folder.name}: {meta['stats']['quads']} quads; editing {path.name}")
    quads = read(path)
    graphs = {q.graph_name for q in quads if q.graph_name.value != PROVENANCE_GRAPH}
    store = ox.Store.read_only(str(folder / STORE_DIR))
    prov = ox.NamedNode(PROVENANCE_GRAPH)
    gone = set()
    for g in graphs:
        gone.update(store.quads_for_pattern(None, None, None, g))
        gone.update(store.quads_for_pattern(g, None, None, prov))
    del store
    with tempfile.TemporaryDirectory(dir=config.cache_dir) as work:
        edit("taken out", folder, gone, set(), meta, Path(work))
        copy = Path(work) / "copy.trig"
        copy.write_bytes(RENAMED.sub(rb"<\1-bench>", path.read_bytes()))
        edit("a renamed copy put in", folder, set(), read(copy), meta, Path(work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
