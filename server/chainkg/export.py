"""Serialise the frozen dataset: every standard RDF format, asserted, inferred or all."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from .dataset import PREFIXES, FrozenDataset
from .load import INFERRED_GRAPH


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


def selected_quads(ds: FrozenDataset, selection: str = "all"):
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {', '.join(SELECTIONS)}")
    inferred = ox.NamedNode(INFERRED_GRAPH)
    for q in ds.store:
        is_inferred = q.graph_name == inferred
        if selection == "all" or (selection == "inferred") == is_inferred:
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


def export_all(ds: FrozenDataset, out_dir: Path, selection: str = "all", gz: bool = True) -> list[Path]:
    """Write one dump per format (and .gz twins) into out_dir; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, f in FORMATS.items():
        data = serialize(ds, name, selection)
        path = out_dir / f"chainkg-{selection}.{f.extension}"
        path.write_bytes(data)
        written.append(path)
        if gz:
            gz_path = path.with_name(path.name + ".gz")
            gz_path.write_bytes(gzip.compress(data, mtime=0))
            written.append(gz_path)
    return written
