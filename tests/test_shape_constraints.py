"""One fixture per SHACL constraint (issue #16, item 2): each breaks that constraint and nothing else.

The constraints are read from shapes/*.ttl, not listed here: every property shape (sh:property),
every SPARQL constraint (sh:sparql) and every constraint parameter on a node shape itself
(sh:class, sh:or, sh:nodeKind ...) of every named node shape. A constraint is named by its
English sh:message (a node-level one by its parameter, e.g. `sh:nodeKind`), and each fixture in
tests/fixtures/shapes/constraints/ says which one it breaks in its header:

    # <what it changes in the shape's valid fixture>
    # breaks: A quantity needs exactly one ck:value of type xsd:decimal.
    # component: sh:DatatypeConstraintComponent

The file is `<NodeShape>--<what>.ttl`. A constraint without a fixture fails
`test_every_constraint_has_a_fixture`, naming the file to add and its `# breaks:` line.

For each fixture, over the ontology, the fixtures' frame (FRAME: the city their district lies in,
as the real build has triples/background.trig) and the fixture, both validators (the Oxigraph one,
chainkg.build.fastshacl, and pySHACL, the reference) must report the same results, at least one,
and every one of them from that constraint: its shape, the declared component, its message, and
(for a property shape) its sh:resultPath; the severity is the shape's. Nothing else fires, not
even a warning.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS, SKOS

from chainkg.build.fastshacl import IGNORED, Shapes, validate_store
from chainkg.build.terms import to_ox
from chainkg.build.validate import validate_graph
from conftest import FIXTURES, ROOT

SH = "http://www.w3.org/ns/shacl#"
SHAPES_NS = "https://w3id.org/chainkg/shapes#"
CONSTRAINT_DIR = FIXTURES / "shapes" / "constraints"
FRAME = FIXTURES / "shapes" / "background" / "city.ttl"  # read with every fixture (W09: places reach a city)
_sh = lambda t: URIRef(SH + t)  # noqa: E731

# sh: predicates of a node shape that are not constraint parameters (targets, labels, structure)
NOT_CONSTRAINTS = IGNORED | {"ignoredProperties"}
# parameters that only make sense together: one constraint (one component) among them
_GROUPS = {"qualifiedMinCount": "qualifiedValueShape", "qualifiedMaxCount": "qualifiedValueShape"}


@dataclass(frozen=True)
class Constraint:
    shape: str  # the node shape's local name
    kind: str  # "property" | "sparql" | "node"
    node: object  # the shapes-graph node: the property shape, the sh:sparql node, or the node shape
    key: str  # what a fixture's `# breaks:` line says
    path: object = None  # the property shape's sh:path (rdflib node)
    path_text: str = ""  # the path in SPARQL syntax, for messages
    severity: str = "Violation"

    def describe(self) -> str:
        where = f" (path {self.path_text})" if self.path_text else ""
        return f"{self.shape}: {self.kind} constraint{where}: {self.key!r}"


def _shapes_graph() -> Graph:
    g = Graph()
    for f in sorted((ROOT / "shapes").glob("*.ttl")):
        g.parse(f, format="turtle")
    return g


def _en(g: Graph, node) -> str | None:
    messages = list(g.objects(node, _sh("message")))
    for m in messages:
        if getattr(m, "language", None) == "en":
            return str(m)
    return str(messages[0]) if messages else None


def _severity(g: Graph, node, default: str) -> str:
    sev = g.value(node, _sh("severity"))
    return str(sev).rsplit("#", 1)[-1] if sev is not None else default


def constraints(g: Graph | None = None) -> list[Constraint]:
    g = g if g is not None else _shapes_graph()
    paths = Shapes.__new__(Shapes)  # only its path renderer: no evaluation
    paths.g = g
    out: list[Constraint] = []
    for shape in sorted(g.subjects(RDF.type, _sh("NodeShape")), key=str):
        if not str(shape).startswith(SHAPES_NS):
            continue
        name = str(shape)[len(SHAPES_NS):]
        severity = _severity(g, shape, "Violation")
        params = {str(p)[len(SH):] for p in g.predicates(shape, None) if str(p).startswith(SH)}
        for param in sorted({_GROUPS.get(p, p) for p in params - NOT_CONSTRAINTS}):
            out.append(Constraint(name, "node", shape, f"sh:{param}", severity=severity))
        for prop in g.objects(shape, _sh("property")):
            path = g.value(prop, _sh("path"))
            key = _en(g, prop) or f"{_compact(paths.path(path))} {' '.join(sorted(str(p)[len(SH):] for p in g.predicates(prop, None)))}"
            out.append(Constraint(name, "property", prop, key, path=path, path_text=_compact(paths.path(path)),
                                  severity=_severity(g, prop, severity)))
        for node in g.objects(shape, _sh("sparql")):
            key = _en(g, node) or str(g.value(node, _sh("select"))).strip()
            out.append(Constraint(name, "sparql", node, key, severity=_severity(g, node, severity)))
    return out


@dataclass(frozen=True)
class Case:
    file: Path
    shape: str
    breaks: str
    component: str


def _header(path: Path) -> dict:
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        m = re.match(r"#\s*(breaks|component):\s*(.+?)\s*$", line)
        if m:
            found[m.group(1)] = m.group(2)
    return found


def cases() -> list[Case]:
    out = []
    for f in sorted(CONSTRAINT_DIR.glob("*.ttl")):
        head = _header(f)
        out.append(Case(f, f.name.split("--", 1)[0], head.get("breaks", ""), head.get("component", "")))
    return out


def _match(case: Case, all_constraints: list[Constraint]) -> Constraint | None:
    found = [c for c in all_constraints if c.shape == case.shape and c.key == case.breaks]
    return found[0] if len(found) == 1 else None


_PREFIXES = {"https://w3id.org/chainkg/ontology#": "ck:", "http://www.w3.org/2000/01/rdf-schema#": "rdfs:",
             "http://www.w3.org/2004/02/skos/core#": "skos:", "http://www.w3.org/ns/prov#": "prov:",
             "http://purl.org/dc/terms/": "dcterms:"}


def _compact(sparql_path: str) -> str:
    for ns, prefix in _PREFIXES.items():
        sparql_path = re.sub(f"<{re.escape(ns)}([^>]*)>", prefix + r"\1", sparql_path)
    return sparql_path


def _slug(c: Constraint) -> str:
    """A file name part for a missing fixture: the path's first local names, or the kind."""
    words = re.findall(r":([A-Za-z][A-Za-z0-9]*)", c.path_text)
    return "-".join(words[:2]) or c.kind


# -- the index -------------------------------------------------------------------------------------
def test_constraints_are_found_in_the_shapes():
    found = constraints()
    kinds = Counter(c.kind for c in found)
    # at the time of writing: 83 property shapes, 4 SPARQL constraints, 4 node-level constraints
    assert kinds["property"] >= 80 and kinds["sparql"] >= 4 and kinds["node"] >= 4, kinds
    # a key names one constraint of its shape, or a fixture could not say which one it breaks
    twins = [k for k, n in Counter((c.shape, c.key) for c in found).items() if n > 1]
    assert not twins, f"two constraints of one shape share a message; give each its own: {twins}"


def missing_fixtures(found: list[Constraint], have: list[Case]) -> str:
    covered = {(c.shape, c.breaks) for c in have}
    missing = [c for c in found if (c.shape, c.key) not in covered]
    return "\n".join(f"  {c.describe()}\n    add {CONSTRAINT_DIR.relative_to(ROOT)}/{c.shape}--{_slug(c)}.ttl "
                     f"with the line '# breaks: {c.key}'" for c in missing)


def test_every_constraint_has_a_fixture():
    missing = missing_fixtures(constraints(), cases())
    assert not missing, "constraints without a fixture that breaks them alone:\n" + missing


def test_a_new_constraint_without_a_fixture_is_named():
    g = _shapes_graph()
    g.parse(data="""@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ck: <https://w3id.org/chainkg/ontology#> .
        @prefix cks: <https://w3id.org/chainkg/shapes#> .
        cks:S04-QuantityShape sh:property [ sh:path ck:baseYear ; sh:maxCount 1 ;
            sh:message "A quantity has at most one ck:baseYear."@en ] .
        cks:S12-ParkShape sh:nodeKind sh:IRI .""", format="turtle")
    missing = missing_fixtures(constraints(g), cases())
    assert "S04-QuantityShape--baseYear.ttl with the line '# breaks: A quantity has at most one ck:baseYear.'" in missing
    assert "S12-ParkShape--node.ttl with the line '# breaks: sh:nodeKind'" in missing
    assert missing.count("\n    add ") == 2, missing


def test_every_fixture_names_a_constraint_and_a_component():
    found = constraints()
    problems = []
    for case in cases():
        if not case.breaks or not case.component.startswith("sh:"):
            problems.append(f"{case.file.name}: the header needs '# breaks: ...' and '# component: sh:...'")
        elif _match(case, found) is None:
            problems.append(f"{case.file.name}: no constraint of {case.shape} is {case.breaks!r} (stale fixture?)")
    assert not problems, "\n".join(problems)


# -- each fixture ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shapes() -> Graph:
    return _shapes_graph()


@pytest.fixture(scope="module")
def ontology() -> Graph:
    g = Graph()
    for f in sorted((ROOT / "ontology").glob("*.ttl")):
        g.parse(f, format="turtle")
    return g


@pytest.fixture(scope="module")
def lean_ontology(ontology) -> Graph:
    """The ontology without the names of its own terms (those with rdfs:isDefinedBy). W07 ignores
    such terms, and nothing else reads their names; but pySHACL evaluates W07's SPARQL target, a
    self-join over every name, in ~4 s per fixture with them and 0.3 s without. Each test checks
    that the Oxigraph validator reports the same on the full ontology."""
    defined = set(ontology.subjects(RDFS.isDefinedBy, None))
    names = {RDFS.label, SKOS.prefLabel, SKOS.altLabel}
    g = Graph()
    for t in ontology:
        if not (t[1] in names and t[0] in defined):
            g.add(t)
    return g


@dataclass(frozen=True)
class Seen:
    """One result as both engines must give it (blank nodes by kind only: labels are per graph)."""

    severity: str
    focus: str
    path: str | None
    value: object  # n3, or (Python value, datatype) for a typed literal
    source_shape: object
    component: str
    message: str | None


def _seen(results: Graph) -> Counter:
    out: Counter = Counter()
    for r in results.subjects(RDF.type, _sh("ValidationResult")):
        def one(p, r=r):
            return results.value(r, _sh(p))

        def text(t):
            if isinstance(t, Literal) and t.datatype is not None and t.language is None:
                return (t.toPython(), t.datatype.n3())  # by value: Oxigraph writes 82.0 as 82
            return None if t is None else ("_:" if isinstance(t, BNode) else t.n3())

        messages = [m for m in results.objects(r, _sh("resultMessage"))]
        # pySHACL drops the language tag of SPARQL-constraint messages; keep the English one
        en = [str(m) for m in messages if getattr(m, "language", None) == "en"] or \
             [str(m) for m in messages if not re.search(r"[\u4e00-\u9fff]", str(m))]
        path = one("resultPath")
        out[Seen(str(one("resultSeverity")).rsplit("#", 1)[-1], text(one("focusNode")),
                 path.n3() if isinstance(path, URIRef) else ("<complex>" if path is not None else None),
                 text(one("value")), one("sourceShape"), str(one("sourceConstraintComponent")).replace(SH, "sh:"),
                 en[0] if en else None)] += 1
    return out


def _data(fixture: Path, ontology: Graph) -> Graph:
    data = Graph()
    for t in ontology:
        data.add(t)
    data.parse(FRAME, format="turtle")
    data.parse(fixture, format="turtle")
    return data


def _fast(data: Graph, shapes: Graph) -> Counter:
    store = ox.Store()
    store.extend(ox.Quad(to_ox(s), to_ox(p), to_ox(o)) for s, p, o in data)
    return _seen(validate_store(store, shapes))


def _explain(results: Counter) -> str:
    return "\n".join(f"  {s.severity} {s.component} focus {s.focus} path {s.path} value {s.value}: {s.message}"
                     for s in results)


@pytest.mark.parametrize("case", cases(), ids=lambda c: c.file.stem)
def test_fixture_breaks_its_constraint_alone_in_both_validators(case, shapes, ontology, lean_ontology):
    constraint = _match(case, constraints(shapes))
    assert constraint is not None, f"{case.file.name}: names no constraint (see the index tests)"
    data = _data(case.file, lean_ontology)
    reference, fast = _seen(validate_graph(data, shapes)), _fast(data, shapes)
    assert _fast(_data(case.file, ontology), shapes) == fast, "the ontology's own names change the results"
    assert reference == fast, (f"the validators disagree on {case.file.name}\npySHACL only:\n"
                               f"{_explain(reference - fast)}\nOxigraph only:\n{_explain(fast - reference)}")
    assert reference, f"{case.file.name} breaks nothing; expected {constraint.describe()}"
    owner = constraint.node if constraint.kind != "sparql" else shapes.value(predicate=_sh("sparql"), object=constraint.node)
    others = [s for s in reference if s.source_shape != owner or s.component != case.component
              or (constraint.kind != "node" and s.message != constraint.key)]
    assert not others, (f"{case.file.name} should break only {constraint.describe()} ({case.component}); "
                        f"also fired:\n{_explain(Counter(others))}")
    for s in reference:
        assert s.severity == constraint.severity
        if constraint.kind == "property":
            expected = constraint.path.n3() if isinstance(constraint.path, URIRef) else "<complex>"
            assert s.path == expected, f"{case.file.name}: resultPath {s.path}, the constraint's is {constraint.path_text}"
        if constraint.kind == "node":
            assert s.path is None
            assert s.message == _en(shapes, constraint.node), f"{case.file.name}: message {s.message!r}"
