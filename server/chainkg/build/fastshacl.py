"""A SHACL Core + SPARQL-constraint validator over an Oxigraph store, for the build at scale.

pySHACL walks the data graph in Python node by node: 567 s for 498k triples (issue #11). This
engine reads the same shapes graph but evaluates each shape in bulk: its focus nodes come from
one store lookup or SPARQL query per target, the value nodes of a property shape from one scan
of its predicate(s), `sh:class` from one `rdf:type/rdfs:subClassOf*` query per class, SPARQL
constraints once for all focus nodes. It writes a validation report graph in pySHACL's form
(focusNode, resultPath, value, sourceShape, resultSeverity, resultMessage,
sourceConstraintComponent) so `validate.findings_from` reads either. pySHACL stays the
reference: `tests/test_scale.py` compares the two on every shape fixture and on the real graph.

Supported: targets (targetNode, targetClass, targetSubjectsOf, targetObjectsOf, SPARQLTarget),
paths (IRI, inverse, alternative, sequence, zero/one-or-more), class, datatype, nodeKind,
minCount, maxCount, minLength, maxLength, in, hasValue, languageIn, uniqueLang, or,
qualifiedValueShape with qualifiedMinCount/MaxCount, sparql (SELECT), message, severity,
deactivated. Anything else raises Unsupported, and the caller falls back to pySHACL.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF

from chainkg.build.check import literal_problem
from chainkg.build.terms import to_ox, to_rdflib

SH = "http://www.w3.org/ns/shacl#"
RDFS_SUBCLASS = "http://www.w3.org/2000/01/rdf-schema#subClassOf"
LANG_STRING = str(RDF.langString)
_sh = lambda t: URIRef(SH + t)  # noqa: E731

VALUE_PARAMS = {"class", "datatype", "nodeKind", "minLength", "maxLength", "in", "hasValue", "languageIn", "or"}
PROPERTY_PARAMS = {"minCount", "maxCount", "uniqueLang", "qualifiedValueShape", "qualifiedMinCount",
                   "qualifiedMaxCount"}
IGNORED = {"name", "description", "message", "severity", "deactivated", "path", "property", "sparql",
           "targetClass", "targetNode", "targetSubjectsOf", "targetObjectsOf", "target", "declare", "prefixes",
           "order", "group", "defaultValue"}


class Unsupported(Exception):
    """The shapes use a feature this engine does not implement."""


@dataclass
class Shape:
    node: object  # the rdflib node in the shapes graph
    severity: URIRef
    messages: list
    path: object = None  # rdflib path node (property shapes)
    sparql_path: str | None = None
    params: dict = field(default_factory=dict)
    properties: list = field(default_factory=list)
    sparql: list = field(default_factory=list)  # [(constraint node, select text, messages)]
    targets: list = field(default_factory=list)  # [(kind, value)]
    key: str = ""  # Shapes gives each a name that holds across readings of the shapes


# -- reading the shapes graph ------------------------------------------------------------------
class Shapes:
    def __init__(self, g: Graph):
        self.g = g
        self.node_shapes: list[Shape] = []
        seen = set()
        candidates = set(g.subjects(RDF.type, _sh("NodeShape")))
        for kind in ("targetClass", "targetNode", "targetSubjectsOf", "targetObjectsOf", "target"):
            candidates |= set(g.subjects(_sh(kind), None))
        for node in sorted(candidates, key=str):
            if node in seen or (node, _sh("path"), None) in g:
                if (node, _sh("path"), None) in g and any(True for _ in g.objects(node, _sh("target"))):
                    raise Unsupported("targets on a property shape")
                continue
            seen.add(node)
            self.node_shapes.append(self.shape(node, top=True))
        self.by_key: dict = {}
        for shape in self.node_shapes:
            self._key(shape, str(shape.node) if isinstance(shape.node, URIRef) else "_:" + _digest(_signature(shape)))

    def _key(self, shape: Shape, key: str) -> None:
        """A name for `shape` that another reading of the same shapes gives it again (blank nodes
        do not keep their labels): its node shape's IRI, then each step down by what it says."""
        shape.key = key
        self.by_key.setdefault(key, shape)
        for i, member in enumerate(shape.params.get("or", ())):
            self._key(member, f"{key} or{i}")
        if "qualifiedValueShape" in shape.params:
            self._key(shape.params["qualifiedValueShape"], f"{key} q")
        for prop in shape.properties:
            self._key(prop, f"{key} {_digest(_signature(prop))}")

    def shape(self, node, top: bool = False) -> Shape:
        g = self.g
        if (node, _sh("deactivated"), Literal(True)) in g:
            return Shape(node, _sh("Violation"), [], params={"deactivated": True})
        shape = Shape(node=node, severity=g.value(node, _sh("severity")) or _sh("Violation"),
                      messages=list(g.objects(node, _sh("message"))))
        path = g.value(node, _sh("path"))
        if path is not None:
            shape.path, shape.sparql_path = path, self.path(path)
        for p, o in g.predicate_objects(node):
            name = str(p)[len(SH):] if str(p).startswith(SH) else None
            if name is None or name in IGNORED:
                continue
            if name in ("in", "languageIn"):
                shape.params[name] = list(Collection(g, o))
            elif name == "or":
                shape.params[name] = [self.shape(m) for m in Collection(g, o)]
            elif name == "qualifiedValueShape":
                shape.params[name] = self.shape(o)
            elif name in VALUE_PARAMS | PROPERTY_PARAMS:
                if name in shape.params:
                    raise Unsupported(f"two values of sh:{name} on one shape")
                shape.params[name] = o
            elif name == "nodeKind":
                shape.params[name] = o
            else:
                raise Unsupported(f"sh:{name}")
        if "qualifiedValueShapesDisjoint" in shape.params:
            raise Unsupported("sh:qualifiedValueShapesDisjoint")
        for prop in g.objects(node, _sh("property")):
            shape.properties.append(self.shape(prop))
        for c in g.objects(node, _sh("sparql")):
            if (c, _sh("deactivated"), Literal(True)) in g:
                continue
            select = g.value(c, _sh("select"))
            if select is None:
                raise Unsupported("a SPARQL constraint without sh:select")
            shape.sparql.append((c, self.prefixes(c) + str(select), list(g.objects(c, _sh("message")))))
        if top:
            for kind in ("targetNode", "targetClass", "targetSubjectsOf", "targetObjectsOf"):
                shape.targets += [(kind, o) for o in g.objects(node, _sh(kind))]
            for t in g.objects(node, _sh("target")):
                select = g.value(t, _sh("select"))
                if select is None:
                    raise Unsupported("a target that is not a SPARQL target")
                shape.targets.append(("sparql", self.prefixes(t) + str(select)))
            if (node, RDF.type, URIRef("http://www.w3.org/2000/01/rdf-schema#Class")) in g:
                raise Unsupported("implicit class targets")
        return shape

    def prefixes(self, node) -> str:
        out = []
        for holder in self.g.objects(node, _sh("prefixes")):
            for decl in self.g.objects(holder, _sh("declare")):
                out.append(f"PREFIX {self.g.value(decl, _sh('prefix'))}: <{self.g.value(decl, _sh('namespace'))}>\n")
        return "".join(out)

    def path(self, p) -> str:
        g = self.g
        if isinstance(p, URIRef):
            return f"<{p}>"
        if (p, RDF.first, None) in g:
            return "(" + "/".join(self.path(x) for x in Collection(g, p)) + ")"
        for key, fmt in (("inversePath", "^({})"), ("zeroOrMorePath", "({})*"), ("oneOrMorePath", "({})+"),
                         ("zeroOrOnePath", "({})?")):
            inner = g.value(p, _sh(key))
            if inner is not None:
                return fmt.format(self.path(inner))
        alt = g.value(p, _sh("alternativePath"))
        if alt is not None:
            return "(" + "|".join(self.path(x) for x in Collection(g, alt)) + ")"
        raise Unsupported(f"path {p!r}")


# -- terms ---------------------------------------------------------------------------------------
def _lexical(t) -> str:
    return t.value


# -- evaluation --------------------------------------------------------------------------------
@dataclass
class Result:
    focus: object  # ox term
    shape: Shape
    component: str
    value: object = None  # ox term
    path: object = None  # rdflib path node
    messages: list | None = None
    top: Shape | None = None  # the node shape whose focus node this is about (run sets it)


def _digest(text: str) -> str:
    import hashlib

    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _signature(shape: Shape) -> str:
    """What a shape says, as text that does not depend on blank node labels."""
    def text(v):
        if isinstance(v, Shape):
            return "{" + _signature(v) + "}"
        if isinstance(v, list):
            return "(" + " ".join(text(x) for x in v) + ")"
        return "_" if isinstance(v, BNode) else v.n3()

    parts = [shape.sparql_path or ""] + sorted(f"{k}={text(v)}" for k, v in shape.params.items())
    parts += sorted(m.n3() for m in shape.messages) + sorted(select for _n, select, _m in shape.sparql)
    parts += sorted("{" + _signature(p) + "}" for p in shape.properties)
    return " ".join(parts)


class Validator:
    """Evaluate `Shapes` on `store`, whose default graph is the data graph (asserted union + ontology)."""

    def __init__(self, store: ox.Store, shapes: Shapes):
        self.store, self.shapes = store, shapes
        self._instances: dict = {}
        self._supers: dict = {}
        self.sparse = False  # a few focus nodes (run's `only`): look each up instead of every instance

    def is_instance(self, v, cls) -> bool:
        """v a/rdfs:subClassOf* cls, from v's types (their superclasses looked up once each)."""
        if not self.sparse:
            return v in self.instances(cls)
        if isinstance(v, ox.Literal):
            return False
        target = ox.NamedNode(str(cls))
        for q in self.store.quads_for_pattern(v, ox.NamedNode(str(RDF.type)), None, ox.DefaultGraph()):
            t = q.object
            if t not in self._supers:
                self._supers[t] = {t} | ({row[0] for row in self.store.query(
                    f"SELECT DISTINCT ?c WHERE {{ {t} <{RDFS_SUBCLASS}>+ ?c }}")} if isinstance(t, ox.NamedNode) else set())
            if target in self._supers[t]:
                return True
        return False

    def instances(self, cls) -> set:
        key = str(cls)
        if key not in self._instances:
            q = f"SELECT DISTINCT ?x WHERE {{ ?x a/<{RDFS_SUBCLASS}>* <{key}> }}"
            self._instances[key] = {row[0] for row in self.store.query(q)}
        return self._instances[key]

    def focus_among(self, shape: Shape, candidates: set) -> set:
        """The focus nodes of `shape` among `candidates`, each looked up (focus_nodes finds them all)."""
        out: set = set()
        for kind, value in shape.targets:
            if kind == "targetNode":
                out |= {to_ox(value)} & candidates
            elif kind == "targetClass":
                out |= {c for c in candidates if self.is_instance(c, value)}
            elif kind == "targetSubjectsOf":
                p = to_ox(value)
                out |= {c for c in candidates if not isinstance(c, ox.Literal) and next(
                    iter(self.store.quads_for_pattern(c, p, None, ox.DefaultGraph())), None) is not None}
            elif kind == "targetObjectsOf":
                p = to_ox(value)
                out |= {c for c in candidates
                        if next(iter(self.store.quads_for_pattern(None, p, c, ox.DefaultGraph())), None) is not None}
            else:
                out |= {row["this"] for row in self.store.query(_restricted(value, candidates))
                        if row["this"] in candidates}
        return out

    def focus_nodes(self, shape: Shape) -> set:
        out: set = set()
        for kind, value in shape.targets:
            if kind == "targetNode":
                out.add(to_ox(value))
            elif kind == "targetClass":
                out |= self.instances(value)
            elif kind == "targetSubjectsOf":
                out |= {q.subject for q in self.store.quads_for_pattern(None, to_ox(value), None, ox.DefaultGraph())}
            elif kind == "targetObjectsOf":
                out |= {q.object for q in self.store.quads_for_pattern(None, to_ox(value), None, ox.DefaultGraph())}
            else:
                out |= {row["this"] for row in self.store.query(value) if row["this"] is not None}
        return out

    def values(self, shape: Shape, focus: set) -> dict:
        """{focus node: [value nodes]} for a property shape (distinct values, each focus node present)."""
        out: dict = {f: [] for f in focus}
        path = shape.path
        if isinstance(path, URIRef):
            pred = ox.NamedNode(str(path))
            if len(focus) < 5000:
                for f in focus:
                    if not isinstance(f, ox.Literal):
                        out[f] = list(dict.fromkeys(
                            q.object for q in self.store.quads_for_pattern(f, pred, None, ox.DefaultGraph())))
                return out
            for q in self.store.quads_for_pattern(None, pred, None, ox.DefaultGraph()):
                if q.subject in out:
                    out[q.subject].append(q.object)
            return out
        if self.sparse:
            from chainkg.build.shapereach import shape_path, walk

            tree = shape_path(self.shapes.g, path)
            for f in focus:
                out[f] = list(walk(self.store, tree, {f}))
            return out
        for row in self.store.query(f"SELECT DISTINCT ?this ?v WHERE {{ ?this {shape.sparql_path} ?v }}"):
            if row[0] in out:
                out[row[0]].append(row[1])
        return out

    # value-level checks: True when the value node conforms
    def conforms_value(self, shape: Shape, name: str, v) -> bool:
        arg = shape.params[name]
        if name == "class":
            return self.is_instance(v, arg)
        if name == "datatype":
            if not isinstance(v, ox.Literal):
                return False
            dt = LANG_STRING if v.language else v.datatype.value
            if dt != str(arg):
                return False
            return v.language is not None or literal_problem(v.value, dt, None) is None or \
                "not one this project uses" in (literal_problem(v.value, dt, None) or "")
        if name == "nodeKind":
            kind = str(arg)[len(SH):]
            is_iri, is_bnode, is_lit = (isinstance(v, ox.NamedNode), isinstance(v, ox.BlankNode),
                                        isinstance(v, ox.Literal))
            return {"IRI": is_iri, "BlankNode": is_bnode, "Literal": is_lit, "BlankNodeOrIRI": is_iri or is_bnode,
                    "BlankNodeOrLiteral": is_bnode or is_lit, "IRIOrLiteral": is_iri or is_lit}[kind]
        if name in ("minLength", "maxLength"):
            if isinstance(v, ox.BlankNode):
                return False
            n = len(v.value)
            return n >= int(arg) if name == "minLength" else n <= int(arg)
        if name == "in":
            return v in {to_ox(x) for x in arg}
        if name == "hasValue":
            return True  # checked on the whole value set
        if name == "languageIn":
            if not isinstance(v, ox.Literal) or not v.language:
                return False
            tag = v.language.lower()
            return any(tag == str(r).lower() or tag.startswith(str(r).lower() + "-") or str(r) == "*" for r in arg)
        if name == "or":
            return any(self.conforms(member, v) for member in arg)
        raise Unsupported(name)

    def conforms(self, shape: Shape, node) -> bool:
        """Does `node` conform to `shape` (a nested shape: value constraints and property shapes)?"""
        if shape.params.get("deactivated"):
            return True
        for name in shape.params:
            if name in VALUE_PARAMS and name != "hasValue" and not self.conforms_value(shape, name, node):
                return False
        if shape.sparql or "hasValue" in shape.params:
            raise Unsupported("sh:sparql or sh:hasValue in a nested shape")
        for prop in shape.properties:
            vals = self.values(prop, {node})[node]
            if self.property_results(prop, node, vals):
                return False
        return True

    def property_results(self, shape: Shape, f, vals: list) -> list:
        out = []
        for name in shape.params:
            if name in VALUE_PARAMS and name != "hasValue":
                for v in vals:
                    if not self.conforms_value(shape, name, v):
                        out.append(Result(f, shape, _component(name), value=v, path=shape.path))
        p = shape.params
        if "hasValue" in p and to_ox(p["hasValue"]) not in vals:
            out.append(Result(f, shape, _component("hasValue"), path=shape.path))
        if "minCount" in p and len(vals) < int(p["minCount"]):
            out.append(Result(f, shape, _component("minCount"), path=shape.path))
        if "maxCount" in p and len(vals) > int(p["maxCount"]):
            out.append(Result(f, shape, _component("maxCount"), path=shape.path))
        if p.get("uniqueLang") is not None and bool(p["uniqueLang"].toPython()):
            langs = Counter(v.language.lower() for v in vals if isinstance(v, ox.Literal) and v.language)
            out += [Result(f, shape, _component("uniqueLang"), path=shape.path) for n in langs.values() if n > 1]
        if "qualifiedValueShape" in p:
            n = sum(1 for v in vals if self.conforms(p["qualifiedValueShape"], v))
            if "qualifiedMinCount" in p and n < int(p["qualifiedMinCount"]):
                out.append(Result(f, shape, _component("qualifiedMinCount"), path=shape.path))
            if "qualifiedMaxCount" in p and n > int(p["qualifiedMaxCount"]):
                out.append(Result(f, shape, _component("qualifiedMaxCount"), path=shape.path))
        return out

    def run(self, only: set | dict | None = None) -> list[Result]:
        """Every result; with `only` (ox terms), just those about these focus nodes; a dict gives them
        per node shape (its rdflib node), shapereach.ALL for every focus node of that shape, and a
        shape it does not name has none."""
        from chainkg.build.shapereach import ALL

        results: list[Result] = []
        for shape in self.shapes.node_shapes:
            if shape.params.get("deactivated"):
                continue
            among = only.get(shape.node, set()) if isinstance(only, dict) else only
            self.sparse = among is not None and among != ALL
            focus = self.focus_among(shape, among) if self.sparse else self.focus_nodes(shape)
            if not focus:
                continue
            start = len(results)
            for name in shape.params:
                if name in VALUE_PARAMS and name != "hasValue":
                    results += [Result(f, shape, _component(name), value=f) for f in focus
                                if not self.conforms_value(shape, name, f)]
            if "hasValue" in shape.params:
                results += [Result(f, shape, _component("hasValue")) for f in focus
                            if f != to_ox(shape.params["hasValue"])]
            for prop in shape.properties:
                if prop.params.get("deactivated"):
                    continue
                for f, vals in self.values(prop, focus).items():
                    results += self.property_results(prop, f, vals)
            for node, select, messages in shape.sparql:
                results += self.sparql_results(shape, node, select, messages, focus)
            for r in results[start:]:
                r.top = shape
        return results

    def sparql_results(self, shape: Shape, node, select: str, messages: list, focus: set) -> list:
        text = re.sub(r"\$this\b", "?this", select)
        if re.search(r"\$\w", text):
            raise Unsupported("pre-bound variables other than $this in a SPARQL constraint")
        out = []
        if self.sparse:
            text = _restricted(text, focus)
        for row in self.store.query(text):
            f = row["this"]
            if f not in focus:
                continue
            value = _binding(row, "value")
            path = _binding(row, "path")
            out.append(Result(f, shape, "SPARQLConstraintComponent", value=value,
                              path=to_rdflib(path) if path is not None else shape.path,
                              messages=[_fill(m, row) for m in messages]))
        return out


def _restricted(select: str, nodes: set) -> str:
    """`select` with ?this bound to `nodes` (a VALUES block opening its WHERE group), when none of
    them is a blank node (a query cannot name one): else `select` as it is, the caller filtering."""
    if any(isinstance(n, ox.BlankNode) for n in nodes):
        return select
    where = re.search(r"\bWHERE\s*\{", select, re.IGNORECASE) or re.search(r"\{", select)
    values = " VALUES ?this { " + " ".join(str(n) for n in nodes) + " } "
    return select[:where.end()] + values + select[where.end():]


def _binding(row, name):
    try:
        return row[name]
    except (KeyError, IndexError):
        return None


def _fill(message, row):
    def sub(m):
        v = _binding(row, m.group(1))
        return v.value if v is not None else m.group(0)

    return Literal(re.sub(r"\{[?$](\w+)\}", sub, str(message)), lang=message.language)


def _component(name: str) -> str:
    return {"in": "InConstraintComponent"}.get(name, name[0].upper() + name[1:] + "ConstraintComponent")


def report_graph(results: list[Result]) -> Graph:
    """The results as a SHACL validation report graph, in pySHACL's form."""
    g = Graph()
    g.bind("sh", SH)
    report = BNode()
    g.add((report, RDF.type, _sh("ValidationReport")))
    g.add((report, _sh("conforms"), Literal(not any(r.shape.severity == _sh("Violation") for r in results))))
    for r in results:
        node = BNode()
        g.add((report, _sh("result"), node))
        g.add((node, RDF.type, _sh("ValidationResult")))
        g.add((node, _sh("focusNode"), to_rdflib(r.focus)))
        g.add((node, _sh("resultSeverity"), r.shape.severity))
        g.add((node, _sh("sourceShape"), r.shape.node))
        g.add((node, _sh("sourceConstraintComponent"), _sh(r.component)))
        if r.path is not None:
            g.add((node, _sh("resultPath"), r.path))
        if r.value is not None:
            g.add((node, _sh("value"), to_rdflib(r.value)))
        for m in (r.messages if r.messages is not None else r.shape.messages):
            g.add((node, _sh("resultMessage"), m))
    return g


def validate_store(store: ox.Store, shapes_graph: Graph, only: set | None = None) -> Graph:
    """Validate the default graph of `store` against `shapes_graph`; the report graph."""
    return report_graph(Validator(store, Shapes(shapes_graph)).run(only))


def validate_rows(store: ox.Store, shapes_graph: Graph) -> tuple[Graph, list]:
    """validate_store's report graph, and the results as rows a build keeps for the next one
    (shapereach.dump_results: what an incremental rebuild carries over)."""
    from chainkg.build.shapereach import dump_results

    found = Validator(store, Shapes(shapes_graph)).run()
    return report_graph(found), dump_results(found)
