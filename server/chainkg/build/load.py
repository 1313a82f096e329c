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
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

from chainkg.config import BASE_IRI, Config

GRAPH_NS = BASE_IRI + "graph/"
ONTOLOGY_GRAPH = GRAPH_NS + "ontology"
PROVENANCE_GRAPH = GRAPH_NS + "provenance"
BACKGROUND_GRAPH = GRAPH_NS + "background"
INFERRED_GRAPH = GRAPH_NS + "inferred"
INFERRED_SCHEMA_GRAPH = GRAPH_NS + "inferred-schema"  # inferences about classes and properties
DERIVATIONS_GRAPH = GRAPH_NS + "derivations"  # why each inferred triple holds (build/provenance.py)
DERIVED_GRAPHS = (INFERRED_GRAPH, INFERRED_SCHEMA_GRAPH, DERIVATIONS_GRAPH)  # built, not asserted
# one graph per group of derivations (rule, axiom, graphs rested on), holding that group's inferred
# triples; described in graph/derivations (build/provenance.py). Built, not asserted, too.
DERIVATION_NS = BASE_IRI + "derivation/"
CLAIM_NS = BASE_IRI + "claim/"
CK = BASE_IRI + "ontology#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def is_derived_graph(graph: str) -> bool:
    """A graph the build derives (graph/inferred, inferred-schema, derivations, or one derivation
    group's graph under derivation/), not one the inputs assert."""
    return graph in DERIVED_GRAPHS or graph.startswith(DERIVATION_NS)


def is_derivation_group(graph: str) -> bool:
    """A derivation group's graph: copies of graph/inferred's triples, filed by why they hold."""
    return graph.startswith(DERIVATION_NS)


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


class Inputs:
    """The asserted named graphs and where each came from.

    The quads are held as pyoxigraph terms (`quads`: {graph IRI: [ox.Quad]}), parsed by Oxigraph;
    validation and reasoning read them through Oxigraph stores (`store()`, `union_store()`)
    without rdflib. `graphs` ({URIRef: rdflib Graph}) is built from them on first use, for the
    code that wants rdflib (consistency checks, owlrl, pySHACL, tests)."""

    def __init__(self, graphs: dict | None = None, origin: dict | None = None):
        self.quads: dict = {}  # graph IRI (str) -> list of ox.Quad, in file order
        self.changes: list = []  # the graph of every add_graph call, in order (what was added after a point)
        self.origin: dict = origin if origin is not None else {}
        self._graphs: dict | None = None
        self._stores: dict = {}
        for name, graph in (graphs or {}).items():
            self.add_graph(str(name), graph, None)

    def add_graph(self, name: str, triples, origin: Path | None) -> None:
        """Add triples (rdflib or pyoxigraph terms) to graph `name`, remembering the file they came from."""
        import pyoxigraph as ox

        from chainkg.build.terms import to_ox

        g = ox.NamedNode(name)
        self.changes.append(name)
        out = self.quads.setdefault(name, [])
        for t in triples:
            s, p, o = (t.subject, t.predicate, t.object) if isinstance(t, (ox.Quad, ox.Triple)) else map(to_ox, t)
            out.append(ox.Quad(s, p, o, g))
        self._graphs, self._stores = None, {}
        if origin is not None:
            from rdflib import URIRef

            key = URIRef(name)
            self.origin.setdefault(key, [])
            if origin not in self.origin[key]:
                self.origin[key].append(origin)

    @property
    def graphs(self) -> dict:
        """{URIRef: rdflib Graph}, built from the quads on first use (distinct triples, as before)."""
        if self._graphs is None:
            from functools import lru_cache

            from rdflib import Graph, URIRef

            from chainkg.build.terms import to_rdflib

            conv = lru_cache(maxsize=None)(to_rdflib)

            graphs = {}
            for name, quads in self.quads.items():
                key = URIRef(name)
                g = graphs[key] = Graph(identifier=key)
                for q in quads:
                    g.add((conv(q.subject), conv(q.predicate), conv(q.object)))
            self._graphs = graphs
        return self._graphs

    def graph(self, name: str):
        """One graph as an rdflib Graph (an empty one when there is none), without building the others."""
        from rdflib import Graph, URIRef

        if self._graphs is not None:
            return self._graphs.get(URIRef(name), Graph(identifier=URIRef(name)))
        g = Graph(identifier=URIRef(name))
        for t in _triples(self.quads.get(name, [])):
            g.add(t)
        return g

    def count(self) -> int:
        """Distinct asserted triples summed over graphs (what `len` of each graph gives)."""
        return len(self.store())

    def store(self):
        """An Oxigraph store of the named graphs (quads as loaded, duplicates merged)."""
        if "named" not in self._stores:
            import pyoxigraph as ox

            st = ox.Store()
            for quads in self.quads.values():
                st.extend(quads)
            self._stores["named"] = st
        return self._stores["named"]

    def union_store(self, include_ontology: bool = True):
        """An Oxigraph store whose default graph is the distinct union of the asserted graphs."""
        key = ("union", include_ontology)
        if key not in self._stores:
            import pyoxigraph as ox

            st = ox.Store()
            dg = ox.DefaultGraph()
            for name, quads in self.quads.items():
                if include_ontology or name != ONTOLOGY_GRAPH:
                    st.extend(ox.Quad(q.subject, q.predicate, q.object, dg) for q in quads)
            self._stores[key] = st
        return self._stores[key]

    def drop_union_stores(self) -> None:
        """Free the union stores (the build's reasoning and shape checks are done with them)."""
        self._stores = {k: v for k, v in self._stores.items() if k == "named"}

    def union(self, include_ontology: bool = True):
        """One rdflib Graph of every asserted graph (pySHACL and owlrl need a single graph)."""
        from rdflib import Graph

        g = Graph()
        for name, graph in self.graphs.items():
            if include_ontology or str(name) != ONTOLOGY_GRAPH:
                for t in graph:
                    g.add(t)
        return g

    def graphs_with_subject(self, node) -> list[str]:
        from rdflib import Literal

        from chainkg.build.terms import to_ox

        if isinstance(node, Literal) or node is None:
            return []
        st = self.store()
        return sorted({q.graph_name.value for q in st.quads_for_pattern(to_ox(node), None, None, None)})

    def claim_graphs(self) -> list[str]:
        return sorted(n for n in self.quads if n.startswith(CLAIM_NS))


def input_files(config: Config) -> list[Path]:
    """Every file whose content shapes the build, in a stable order."""
    files: list[Path] = []
    files += sorted(config.ontology_dir.glob("*.ttl"))
    files += sorted(config.triples_dir.glob("*.ttl")) + sorted(config.triples_dir.glob("*.trig"))
    files += sorted(config.shapes_dir.glob("*.ttl"))
    return files


def inputs_hash(config: Config) -> str:
    """A hash of all input files, the dependency versions and the reasoner: the dataset version."""
    h = hashlib.sha256()
    for f in input_files(config):
        h.update(str(f.relative_to(config.root)).encode() + b"\0")
        h.update(f.read_bytes() + b"\0")
    for dist, version in dependencies().items():
        h.update(f"{dist}=={version}\0".encode())
    h.update(setup(config).encode())
    return h.hexdigest()[:16]


# What a build holds changes with this number (not only with the inputs): 2 since the derivations are
# chosen in order of cost, graphs, depth (build/provenance.py), so an older cached build is rebuilt
# once rather than served, or used as the base of an incremental rebuild, with the older choices.
BUILD_FORMAT = 2


def setup(config: Config) -> str:
    """What besides the input files makes a build: chainkg's version, the build format and the
    reasoner (the dependencies' versions are in `dependencies`)."""
    from chainkg import __version__

    return f"chainkg=={__version__};build={BUILD_FORMAT};reasoner={config.reasoner}"


def dependencies() -> dict:
    out = {}
    for dist in DEPENDENCIES:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "absent"
    return out


def input_manifest(config: Config, inputs: Inputs) -> dict:
    """What the build was made of, for the next build to compare with (an incremental rebuild
    redoes what the changed files reach): {"setup", "dependencies", "files": {path relative to
    the root: {"blake3": digest, "graphs": [the named graphs it gave, for files of triples/]}}}."""
    from collections import defaultdict

    import blake3

    by_file: dict = defaultdict(list)
    for graph, paths in inputs.origin.items():
        for path in paths:
            by_file[Path(path)].append(str(graph))
    files = {}
    for f in input_files(config):
        entry: dict = {"blake3": blake3.blake3(f.read_bytes()).hexdigest()}
        if f in by_file:
            entry["graphs"] = sorted(by_file[f])
        files[str(f.relative_to(config.root))] = entry
    return {"setup": setup(config), "dependencies": dependencies(), "files": files}


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


def _parse_quads(path: Path, fmt: str) -> list:
    """The file's quads as pyoxigraph terms, parsed by Oxigraph (about 40x faster than rdflib).
    A file Oxigraph refuses is parsed again by rdflib, which names the problem as it always has
    (syntax errors with file and line; invalid IRIs and literals go on to the checks)."""
    import pyoxigraph as ox

    ox_fmt = ox.RdfFormat.TRIG if fmt == "trig" else ox.RdfFormat.TURTLE
    try:
        return list(ox.parse(path=str(path), format=ox_fmt))
    except (SyntaxError, ValueError, OSError):
        pass
    from rdflib.graph import DATASET_DEFAULT_GRAPH_ID

    from chainkg.build.terms import to_ox

    ds = _parse(path, fmt)  # raises LoadError for what rdflib cannot read either
    out = []
    for s, p, o, g in _quads(ds):
        try:
            gn = ox.DefaultGraph() if g == DATASET_DEFAULT_GRAPH_ID else to_ox(g)
            out.append(ox.Quad(to_ox(s), to_ox(p), to_ox(o), gn))
        except ValueError:  # an IRI Oxigraph cannot hold: the checks report it with its line
            out.append(("invalid", s, p, o, g))
    return out


def _rdflib_quads(quads) -> list:
    """rdflib (s, p, o, g) quads for the first quad that shows each (term, position) pair: the
    checks look at every pair once, so they see exactly what a full pass would show them."""
    import pyoxigraph as ox
    from rdflib.graph import DATASET_DEFAULT_GRAPH_ID

    from chainkg.build.terms import to_rdflib

    seen: set = set()
    out = []
    for q in quads:
        if isinstance(q, tuple):
            out.append(q[1:])
            continue
        s, p, o, g = q.subject, q.predicate, q.object, q.graph_name
        keys = ((s, 0), (p, 1), (o, 2 if p.value == RDF_TYPE else 0), (g, 3))
        if all(k in seen for k in keys):
            continue
        seen.update(keys)
        rg = DATASET_DEFAULT_GRAPH_ID if isinstance(g, ox.DefaultGraph) else to_rdflib(g)
        out.append((to_rdflib(s), to_rdflib(p), to_rdflib(o), rg))
    return out


def _triples(quads) -> list:
    from chainkg.build.terms import to_rdflib

    return [(to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object)) for q in quads]


def load(config: Config, *, strict: bool = True) -> Inputs:
    """Read every input file into named graphs. With `strict` (always, except to inspect broken
    data) the checks of chainkg.build.check run on every file; their problems stop the load
    together, as CheckFailed (one line each)."""
    with _quiet_terms():
        return _load(config, strict)


@contextmanager
def _quiet_terms():
    """rdflib logs an ill-typed literal with a traceback when a term is converted; the checks report
    it as one line instead."""
    quiet, term_log = _Quiet(), logging.getLogger("rdflib.term")
    term_log.addFilter(quiet)
    try:
        yield
    finally:
        term_log.removeFilter(quiet)


def _vocabulary(ontology_quads):
    """The checks' view of the ontology (chainkg.build.check.Vocabulary) from its quads."""
    from rdflib import Graph

    from chainkg.build.check import Vocabulary

    ontology = Graph()
    for t in _triples(ontology_quads):
        ontology.add(t)
    return Vocabulary(ontology)


def _load(config: Config, strict: bool) -> Inputs:
    import pyoxigraph as ox

    from chainkg.build.check import Checker

    inputs = Inputs()
    checker = Checker()
    parsed_ontology = []

    def valid(quads) -> list:
        return [q for q in quads if not isinstance(q, tuple)]

    for path in sorted(config.ontology_dir.glob("*.ttl")):
        quads = _parse_quads(path, "turtle")
        inputs.add_graph(ONTOLOGY_GRAPH, (q for q in valid(quads) if isinstance(q.graph_name, ox.DefaultGraph)), path)
        parsed_ontology.append((path, quads))
    vocab = _vocabulary(inputs.quads.get(ONTOLOGY_GRAPH, [])) if strict else None
    checker.vocab = vocab
    if strict:
        for path, quads in parsed_ontology:
            checker.check_terms(path, _rdflib_quads(quads), vocab=vocab)

    for path in sorted(config.triples_dir.glob("*.ttl")):
        quads = _parse_quads(path, "turtle")
        default = [q for q in valid(quads) if isinstance(q.graph_name, ox.DefaultGraph)]
        if strict:
            checker.check_terms(path, _rdflib_quads(quads), vocab=vocab)
            checker.check_role(path, "catalogue", _triples(default))
        inputs.add_graph(PROVENANCE_GRAPH, default, path)

    for path in sorted(config.triples_dir.glob("*.trig")):
        _load_trig(path, inputs, checker, vocab, strict)
    if checker.problems:
        raise CheckFailed(checker.problems)
    return inputs


def _load_trig(path: Path, inputs: Inputs, checker, vocab, strict: bool, taken: dict | None = None) -> None:
    """One file of claims into `inputs`: its named graphs (claims, graph/background) as they are, its
    default graph into graph/provenance. `taken`: {graph IRI: file} of graphs that files not read
    here give, which this one may not give again."""
    import pyoxigraph as ox
    from rdflib import URIRef

    rdf_type, claim_cls = ox.NamedNode(RDF_TYPE), ox.NamedNode(CK + "Claim")
    background = ox.NamedNode(BACKGROUND_GRAPH)
    quads = _parse_quads(path, "trig")
    default, named = [], {}
    for q in quads:
        if isinstance(q, tuple):  # a term the checks report
            continue
        if isinstance(q.graph_name, ox.DefaultGraph):
            default.append(q)
        else:
            named.setdefault(q.graph_name, []).append(q)
    if strict:
        checker.check_terms(path, _rdflib_quads(quads), vocab=vocab)
        checker.check_role(path, "claim-description", _triples(default))
        if background in named:
            checker.check_role(path, "background", _triples(named[background]), graph=BACKGROUND_GRAPH)
    claims = {q.subject for q in default if q.predicate == rdf_type and q.object == claim_cls}
    for name, g in named.items():
        if name.value != BACKGROUND_GRAPH:
            other = inputs.origin[URIRef(name.value)][0] if name.value in inputs.quads else (taken or {}).get(name.value)
            if other is not None:
                raise LoadError(path, f"named graph <{name.value}> is also defined in {other}")
        is_claim = name in claims
        if not is_claim and name != background:
            raise LoadError(path, f"named graph <{name.value}> is not described as a ck:Claim in this file")
        if is_claim and not name.value.startswith(CLAIM_NS):
            raise LoadError(path, f"claim <{name.value}> must have an IRI under {CLAIM_NS}")
        inputs.add_graph(name.value, g, path)
    for q in default:
        if q.subject not in named:
            from chainkg.build.terms import to_rdflib

            s, p, o = to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object)
            raise LoadError(
                path,
                f"asserted triple outside a claim: <{s}> <{p}> {o.n3()} "
                "(put facts inside a claim graph; the default graph only describes claims)",
            )
    inputs.add_graph(PROVENANCE_GRAPH, default, path)


def load_files(config: Config, paths: list, taken: dict) -> Inputs:
    """Only the files of claims `paths` (with every check `load` makes on them, the ontology read for
    its vocabulary): what an incremental rebuild reads. `taken`: {graph IRI: file} of the graphs the
    other files give."""
    from chainkg.build.check import Checker

    checker = Checker()
    checker.vocab = vocab = _vocabulary([q for path in sorted(config.ontology_dir.glob("*.ttl"))
                                         for q in _parse_quads(path, "turtle") if not isinstance(q, tuple)])
    inputs = Inputs()
    with _quiet_terms():
        for path in sorted(paths):
            _load_trig(path, inputs, checker, vocab, True, taken)
    if checker.problems:
        raise CheckFailed(checker.problems)
    return inputs
