"""Serialise the frozen dataset: every standard RDF format, asserted, inferred or all."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from chainkg.build.dataset import PREFIXES, FrozenDataset
from chainkg.build.load import INFERRED_GRAPH, ONTOLOGY_GRAPH, is_derived_graph


@dataclass(frozen=True)
class Format:
    name: str
    extension: str
    media_type: str
    rdf_format: ox.RdfFormat
    quads: bool


FORMATS = {
    f.name: f
    for f in (
        Format("turtle", "ttl", "text/turtle", ox.RdfFormat.TURTLE, False),
        Format("ntriples", "nt", "application/n-triples", ox.RdfFormat.N_TRIPLES, False),
        Format("jsonld", "jsonld", "application/ld+json", ox.RdfFormat.JSON_LD, False),
        Format("rdfxml", "rdf", "application/rdf+xml", ox.RdfFormat.RDF_XML, False),
        Format("trig", "trig", "application/trig", ox.RdfFormat.TRIG, True),
        Format("nquads", "nq", "application/n-quads", ox.RdfFormat.N_QUADS, True),
    )
}
SELECTIONS = ("all", "asserted", "inferred")
GENID = "https://w3id.org/chainkg/.well-known/genid/"  # skolem IRIs of a partial dump's blank nodes
LICENSE = "https://creativecommons.org/licenses/by/4.0/"
MANIFEST = "manifest.json"
# Formats whose syntax has comments carry a licence header in the dumps.
COMMENTED = ("turtle", "ntriples", "trig", "nquads")


def selected_quads(ds: FrozenDataset, selection: str = "all"):
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {', '.join(SELECTIONS)}")
    # "asserted" leaves out every graph the build derives (issue #15: graph/inferred-schema,
    # graph/derivations and the derivation groups' graphs too); "inferred" is graph/inferred, the
    # data inferences, as before
    inferred, derived = ox.NamedNode(INFERRED_GRAPH), {}
    if selection == "all":
        yield from ds.store
        return
    # A part of the dataset downloaded on its own must still join the other part: its data blank
    # nodes (figures, rankings) become skolem IRIs (RDF 1.1 section 3.5), the same in every part of
    # one version. The ontology's blank nodes (restrictions, lists) stay blank, as OWL wants them.
    ontology = ox.NamedNode(ONTOLOGY_GRAPH)
    keep = {t for q in ds.store.quads_for_pattern(None, None, None, ontology)
            for t in (q.subject, q.object) if isinstance(t, ox.BlankNode)}

    def sk(t):
        return ox.NamedNode(GENID + t.value) if isinstance(t, ox.BlankNode) and t not in keep else t

    for q in ds.store:
        if selection == "inferred":
            wanted = q.graph_name == inferred
        else:
            wanted = derived.get(q.graph_name)
            if wanted is None:
                wanted = derived[q.graph_name] = not is_derived_graph(getattr(q.graph_name, "value", ""))
        if wanted:
            if isinstance(q.subject, ox.BlankNode) or isinstance(q.object, ox.BlankNode):
                q = ox.Quad(sk(q.subject), q.predicate, sk(q.object), q.graph_name)
            yield q


def serialize(ds: FrozenDataset, fmt: str, selection: str = "all") -> bytes:
    """Quad formats keep the named graphs; triple formats get the distinct union."""
    f = FORMATS[fmt]
    quads = selected_quads(ds, selection)
    if f.quads:
        data = quads
    else:
        seen = set()
        data = []
        for q in quads:
            t = q.triple
            if t not in seen:
                seen.add(t)
                data.append(t)
    prefixes = PREFIXES if f.rdf_format in (ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG, ox.RdfFormat.RDF_XML) else None
    kwargs = {"prefixes": prefixes} if prefixes else {}
    return ox.serialize(data, format=f.rdf_format, **kwargs)


def licence_header(ds: FrozenDataset) -> bytes:
    return (f"# chainkg dataset, version {ds.version}. Licence: CC BY 4.0, {LICENSE}\n"
            "# The licence is also stated as dcterms:license in the VoID description (/.well-known/void).\n").encode()


def export_all(ds: FrozenDataset, out_dir: Path, selection: str = "all", gz: bool = True) -> list[Path]:
    """Write one dump per format (and .gz twins) into out_dir; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, f in FORMATS.items():
        data = serialize(ds, name, selection)
        if name in COMMENTED:
            data = licence_header(ds) + data
        path = out_dir / f"chainkg-{selection}.{f.extension}"
        path.write_bytes(data)
        written.append(path)
        if gz:
            gz_path = path.with_name(path.name + ".gz")
            gz_path.write_bytes(gzip.compress(data, mtime=0))
            written.append(gz_path)
    return written


def dump_manifest(ds: FrozenDataset, folder: Path, selection: str = "all") -> list[dict]:
    """One entry per dump file in folder: name, format, media type, size, triples (or quads), version."""
    stats = ds.meta.get("stats") or {}
    quads = stats.get("quads", len(ds.store)) if selection == "all" else sum(1 for _ in selected_quads(ds, selection))
    triples = stats.get("distinct_triples") if selection == "all" else None
    if triples is None:
        triples = len({q.triple for q in selected_quads(ds, selection)})
    entries = []
    for name, f in FORMATS.items():
        for gz in (False, True):
            path = folder / f"chainkg-{selection}.{f.extension}{'.gz' if gz else ''}"
            if path.exists():
                entries.append({"file": path.name, "format": name, "media_type": f.media_type, "gzip": gz,
                                "bytes": path.stat().st_size, "named_graphs": f.quads,
                                "triples": quads if f.quads else triples, "version": ds.version})
    return entries


def ensure_dumps(ds: FrozenDataset, folder: Path) -> list[dict]:
    """The full dumps of ds in folder (written once per dataset version, atomically); the manifest."""
    manifest = folder / MANIFEST
    if manifest.exists():
        return json.loads(manifest.read_text())
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        export_all(ds, tmp, "all")
        entries = dump_manifest(ds, tmp)
        (tmp / MANIFEST).write_text(json.dumps(entries, indent=1))
        try:
            os.replace(tmp, folder)
        except OSError:  # another process finished first: keep its files
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return json.loads(manifest.read_text())
