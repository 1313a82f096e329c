"""Step 1: read ontology/ and triples/ into named graphs, enforcing the claim discipline.

- ontology/*.ttl              -> graph/ontology
- triples/*.ttl               -> graph/provenance (the catalogue of sources)
- triples/*.trig named graphs -> kept as they are (claims, graph/background)
- triples/*.trig default graph -> graph/provenance, and it may only describe the file's own
  named graphs (claims: source and evidence). Any other default-graph triple is a fact
  outside a claim and stops the load.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from chainkg.config import BASE_IRI, Config

GRAPH_NS = BASE_IRI + "graph/"
ONTOLOGY_GRAPH = GRAPH_NS + "ontology"
PROVENANCE_GRAPH = GRAPH_NS + "provenance"
BACKGROUND_GRAPH = GRAPH_NS + "background"
INFERRED_GRAPH = GRAPH_NS + "inferred"
CLAIM_NS = BASE_IRI + "claim/"
CK = BASE_IRI + "ontology#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"

# Everything whose version changes what a build produces.
DEPENDENCIES = ("rdflib", "owlrl", "pyshacl", "pyoxigraph", "reasonable")


class LoadError(Exception):
    """A file could not be read: names the file and, for syntax errors, the line."""

    def __init__(self, file: Path | str, message: str, line: int | None = None):
        self.file = Path(file)
        self.line = line
        self.message = message
        where = f"{self.file}:{line}" if line else str(self.file)
        super().__init__(f"{where}: {message}")


@dataclass
class Inputs:
    """The asserted named graphs (rdflib Graphs keyed by graph IRI) and where each came from."""

    graphs: dict = field(default_factory=dict)
    origin: dict = field(default_factory=dict)

    def union(self, include_ontology: bool = True):
        """One rdflib Graph of every asserted graph (shapes and reasoning need a single graph)."""
        from rdflib import Graph

        g = Graph()
        for name, graph in self.graphs.items():
            if include_ontology or str(name) != ONTOLOGY_GRAPH:
                for t in graph:
                    g.add(t)
        return g

    def graphs_with_subject(self, node) -> list[str]:
        return sorted(str(n) for n, g in self.graphs.items() if (node, None, None) in g)

    def claim_graphs(self) -> list[str]:
        return sorted(str(n) for n in self.graphs if str(n).startswith(CLAIM_NS))


def input_files(config: Config) -> list[Path]:
    """Every file whose content shapes the build, in a stable order."""
    files: list[Path] = []
    files += sorted(config.ontology_dir.glob("*.ttl"))
    files += sorted(config.triples_dir.glob("*.ttl")) + sorted(config.triples_dir.glob("*.trig"))
    files += sorted(config.shapes_dir.glob("*.ttl"))
    return files


def inputs_hash(config: Config) -> str:
    """A hash of all input files, the dependency versions and the reasoner: the dataset version."""
    from chainkg import __version__

    h = hashlib.sha256()
    for f in input_files(config):
        h.update(str(f.relative_to(config.root)).encode() + b"\0")
        h.update(f.read_bytes() + b"\0")
    for dist in DEPENDENCIES:
        try:
            h.update(f"{dist}=={metadata.version(dist)}\0".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{dist}==absent\0".encode())
    h.update(f"chainkg=={__version__};reasoner={config.reasoner}".encode())
    return h.hexdigest()[:16]


class CheckFailed(LoadError):
    """The files parse but hold what the build refuses: one `file:line: message` line per problem."""

    def __init__(self, problems: list):
        self.problems = problems
        first = problems[0]
        Exception.__init__(self, "\n".join(str(p) for p in problems))
        self.file, self.line, self.message = Path(first.file), first.line, first.message


class _Quiet(logging.Filter):
    """rdflib logs ill-typed literals with a traceback and odd IRIs as warnings while parsing;
    the checks report them as one line each, with file and line, instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return False


def _parse(path: Path, fmt: str):
    from rdflib import Dataset
    from rdflib.plugins.parsers.notation3 import BadSyntax

    ds = Dataset()
    quiet, term_log = _Quiet(), logging.getLogger("rdflib.term")
    term_log.addFilter(quiet)
    try:
        ds.parse(path, format=fmt)
    except BadSyntax as e:
        raise LoadError(path, f"syntax error: {e._why}", line=e.lines + 1) from None
    except Exception as e:  # other parser errors (bad IRIs, bad literals): one line
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise LoadError(path, f"cannot parse: {first}", line=_error_line(e)) from None
    finally:
        term_log.removeFilter(quiet)
    return ds


def _error_line(e: Exception) -> int | None:
    m = re.search(r"line[: ]+(\d+)", str(e))
    return int(m.group(1)) if m else None


def _quads(ds):
    for g in ds.graphs():
        for s, p, o in g:
            yield s, p, o, g.identifier


def load(config: Config, *, strict: bool = True) -> Inputs:
    """Read every input file into named graphs. With `strict` (always, except to inspect broken
    data) the checks of chainkg.build.check run on every file; their problems stop the load
    together, as CheckFailed (one line each)."""
    from rdflib import Graph, URIRef
    from rdflib.graph import DATASET_DEFAULT_GRAPH_ID

    from chainkg.build.check import Checker, Vocabulary

    inputs = Inputs()
    checker = Checker()
    parsed_ontology = []

    def add(graph_name: str, triples, origin: Path) -> None:
        key = URIRef(graph_name)
        g = inputs.graphs.setdefault(key, Graph(identifier=key))
        for t in triples:
            g.add(t)
        inputs.origin.setdefault(key, [])
        if origin not in inputs.origin[key]:
            inputs.origin[key].append(origin)

    for path in sorted(config.ontology_dir.glob("*.ttl")):
        ds = _parse(path, "turtle")
        add(ONTOLOGY_GRAPH, ds.default_graph, path)
        parsed_ontology.append((path, ds))
    vocab = Vocabulary(inputs.graphs.get(URIRef(ONTOLOGY_GRAPH), Graph())) if strict else None
    checker.vocab = vocab
    if strict:
        for path, ds in parsed_ontology:
            checker.check_terms(path, _quads(ds), vocab=vocab)

    for path in sorted(config.triples_dir.glob("*.ttl")):
        ds = _parse(path, "turtle")
        if strict:
            checker.check_terms(path, _quads(ds), vocab=vocab)
            checker.check_role(path, "catalogue", ds.default_graph)
        add(PROVENANCE_GRAPH, ds.default_graph, path)

    rdf_type, claim_cls = URIRef(RDF_TYPE), URIRef(CK + "Claim")
    for path in sorted(config.triples_dir.glob("*.trig")):
        ds = _parse(path, "trig")
        default = ds.graph(DATASET_DEFAULT_GRAPH_ID)
        named = {g.identifier: g for g in ds.graphs() if g.identifier != DATASET_DEFAULT_GRAPH_ID}
        if strict:
            checker.check_terms(path, _quads(ds), vocab=vocab)
            checker.check_role(path, "claim-description", default)
            if URIRef(BACKGROUND_GRAPH) in named:
                checker.check_role(path, "background", named[URIRef(BACKGROUND_GRAPH)], graph=BACKGROUND_GRAPH)
        for name, g in named.items():
            if not len(g):
                continue
            if name in inputs.graphs and str(name) not in (BACKGROUND_GRAPH,):
                raise LoadError(path, f"graph <{name}> is also defined in {inputs.origin[name][0]}")
            is_claim = (name, rdf_type, claim_cls) in default
            if not is_claim and str(name) != BACKGROUND_GRAPH:
                raise LoadError(path, f"named graph <{name}> is not described as a ck:Claim in this file")
            if is_claim and not str(name).startswith(CLAIM_NS):
                raise LoadError(path, f"claim <{name}> must have an IRI under {CLAIM_NS}")
            add(str(name), g, path)
        for s, p, o in default:
            if s not in named:
                raise LoadError(
                    path,
                    f"asserted triple outside a claim: <{s}> <{p}> {o.n3()} "
                    "(put facts inside a claim graph; the default graph only describes claims)",
                )
        add(PROVENANCE_GRAPH, default, path)
    if checker.problems:
        raise CheckFailed(checker.problems)
    return inputs
