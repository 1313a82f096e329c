"""`chainkg serve --data FILE[=GRAPH] ...`: serve arbitrary RDF files as a dataset, by the SPARQL 1.1
dataset rules (no validation, no reasoning).

- **Formats** by extension: .ttl, .nt, .nq, .trig, .rdf / .xml / .owl (RDF/XML), .jsonld, .n3.
- **Graphs**: a triple format goes into the unnamed (default) graph, or into the named graph GRAPH
  given after `=` (an absolute IRI); a quad format (TriG, N-Quads) keeps its own graphs, its
  unnamed graph included, and takes no `=GRAPH`.
- **Relative IRIs** (`<>`, `<#x>`, `<other.ttl>`, `rdf:about=""`, `rdf:resource="#x"`) resolve
  against the file's own URL, `file:///absolute/path/of/the/file.ttl`, or against `--base IRI`
  for every file when given; a base the file declares itself (`@base`, `BASE`, `xml:base`,
  `@context/@base`) wins, as the formats define.
- **The default graph** of a query is the unnamed graph of the files, as SPARQL 1.1 defines a
  dataset (a named graph is reached with GRAPH, FROM or default-graph-uri). With
  `--union-default-graph` it is the distinct union of the unnamed graph and every named graph
  instead (what the project's own build serves).

The version (ETags, caches) is a hash of the files' bytes, their graphs, each file's base IRI (its
URL, or --base) and the mode.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path

import pyoxigraph as ox

EXTENSIONS = {"ttl": ox.RdfFormat.TURTLE, "nt": ox.RdfFormat.N_TRIPLES, "nq": ox.RdfFormat.N_QUADS,
              "trig": ox.RdfFormat.TRIG, "rdf": ox.RdfFormat.RDF_XML, "xml": ox.RdfFormat.RDF_XML,
              "owl": ox.RdfFormat.RDF_XML, "jsonld": ox.RdfFormat.JSON_LD, "n3": ox.RdfFormat.N3}
QUAD_FORMATS = (ox.RdfFormat.N_QUADS, ox.RdfFormat.TRIG)
_ABSOLUTE_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\x00-\x20<>\"{}|^`\\]*$")


class DataFileError(ValueError):
    """A --data file or option that cannot be served; str() is one line naming the file."""


def is_absolute_iri(value: str) -> bool:
    return bool(_ABSOLUTE_IRI.match(value))


def parse_spec(spec: str) -> tuple[Path, str | None]:
    """`FILE` or `FILE=GRAPH-IRI` -> (path, graph IRI or None). The split is at the first `=` that
    follows an existing file and precedes an absolute IRI, so both a file name and a graph IRI may
    hold `=`. Raises DataFileError when there is no such file or the graph is not an absolute IRI."""
    spec = str(spec)
    for i, char in enumerate(spec):
        if char == "=" and is_absolute_iri(spec[i + 1:]) and Path(spec[:i]).is_file():
            return Path(spec[:i]), spec[i + 1:]
    if Path(spec).is_file():
        return Path(spec), None
    head, sep, tail = spec.partition("=")
    if sep and Path(head).is_file():
        raise DataFileError(f"--data {spec}: the graph after '=' must be an absolute IRI (scheme:...), not {tail!r}")
    raise DataFileError(f"--data: no such file: {head if sep else spec}")


def base_of(path: Path, base: str | None) -> str:
    """The base IRI the relative IRIs of `path` resolve against: --base, else the file's URL."""
    return base if base is not None else path.resolve().as_uri()


def load_files(specs, *, base: str | None = None, union_default_graph: bool = False):
    """The FrozenDataset of these --data specs (see the module docstring). Raises DataFileError."""
    from chainkg.build.dataset import FrozenDataset, compute_stats

    if base is not None and not is_absolute_iri(base):
        raise DataFileError(f"--base must be an absolute IRI (scheme:...), not {base!r}")
    store = ox.Store()
    digest = hashlib.sha256(f"base={base}\0union={union_default_graph}\0".encode())
    files = []
    for spec in specs:
        path, graph = parse_spec(spec)
        fmt = EXTENSIONS.get(path.suffix.lstrip(".").lower())
        if fmt is None:
            raise DataFileError(f"--data {path}: unknown RDF format of extension {path.suffix or '(none)'!r}; "
                                f"use one of {', '.join('.' + e for e in EXTENSIONS)}")
        if graph and fmt in QUAD_FORMATS:
            raise DataFileError(f"--data {path}: a quad format keeps its own graphs; drop '={graph}'")
        file_base = base_of(path, base)
        kwargs = {} if fmt in QUAD_FORMATS else {"to_graph": ox.NamedNode(graph) if graph else ox.DefaultGraph()}
        try:
            store.bulk_load(path=str(path), format=fmt, base_iri=file_base, **kwargs)
        except (SyntaxError, ValueError, OSError) as e:
            message = str(e).splitlines()[0] if str(e) else type(e).__name__
            if fmt in (ox.RdfFormat.N_TRIPLES, ox.RdfFormat.N_QUADS) and "No scheme found" in message:
                message += (f"; {fmt.name} allows absolute IRIs only: write the IRI in full, or name the file "
                            f"{'.ttl' if fmt == ox.RdfFormat.N_TRIPLES else '.trig'} so that relative IRIs "
                            "resolve against its URL")
            raise DataFileError(f"--data {path}: not valid {fmt.name} (base IRI {file_base}): {message}") from None
        digest.update(path.read_bytes())  # the same bytes elsewhere resolve to other IRIs: the base counts too
        digest.update(b"\0" + (graph or "").encode() + b"\0" + file_base.encode() + b"\0")
        files.append({"file": str(path), "graph": graph, "format": fmt.name, "base": file_base})
    ds = FrozenDataset(store=store, version="files-" + digest.hexdigest()[:12],
                       meta={"files": files, "default_graph": "union" if union_default_graph else "unnamed"})
    queried = store
    if union_default_graph:  # the distinct union: a store is a set, so a triple in two graphs is there once
        queried = ox.Store()
        queried.extend(store)
        queried.update("INSERT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }")
    _query_on(ds, queried)
    ds.meta["stats"] = compute_stats(ds)  # its counts are over the named graphs ...
    default = queried.query("SELECT (COUNT(*) AS ?n) { ?s ?p ?o }")  # ... the default graph is this one
    ds.meta["stats"]["distinct_triples"] = int(next(iter(default))["n"].value)
    return ds


def _query_on(ds, store: ox.Store) -> None:
    """Make `store` the one the dataset's queries run on, with and without inferred=false (files
    have no inferred graph). FrozenDataset keeps its query stores as `union`/`asserted` (derived
    on first use) or, in older versions, as `union_store`/`asserted_store` built at init."""
    names = {f.name for f in dataclasses.fields(ds)}
    if "union" in names and "asserted" in names:
        ds.union = ds.asserted = store
    else:
        ds.union_store = ds.asserted_store = store
