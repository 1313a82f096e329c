"""Which focus nodes an edit can change the shapes' results of (issue #11: validation after an edit).

A shape's result for a focus node depends on the triples its evaluation reads: those of its targets,
of its property paths from the node, of the nested shapes (sh:class, sh:or, sh:qualifiedValueShape)
on the value nodes, and of the triple patterns of its SPARQL targets and constraints. Each of these
is an *edge* of a small pattern graph rooted at the focus node (`?this`): `a -X-> b`, X a property
path. A changed triple (s p o) can change the result for f only if it matches a step p of some edge
at a node the evaluation reaches from f through triples that exist (in the data before the edit,
for a triple taken out; after it, for one put in), because every triple an evaluation reads hangs
off such a chain: the conjunctive patterns of a solution, the patterns of an OPTIONAL or NOT EXISTS
tried with the outer bindings, a path's intermediate nodes. So the affected focus nodes of an edge
are found backward: from the changed triple's end, against the direction of the *route* from the
root to that end (every simple path of the pattern graph from `?this`, alternated), in the store the
triple is in. A shape whose patterns do not connect an edge to `?this` (a cross product, a
variable reached only through a FILTER equality) gives `ALL`: validate it on every focus node.

This is what makes the direction matter: a changed (e ck:locatedIn Qingdao) reaches e, and what lies
inside e, but not everything that lies in Qingdao.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from itertools import count

import pyoxigraph as ox

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS_SUBCLASS = "http://www.w3.org/2000/01/rdf-schema#subClassOf"
ALL = "all"  # every focus node of the shape

# -- property paths as trees: ("p", NamedNode), ("any",), ("inv", X), ("seq", (X, ...)),
#    ("alt", (X, ...)), ("star", X), ("plus", X), ("opt", X); EMPTY is the path of length zero
EMPTY = ("seq", ())
ANY = ("any",)


def step(iri: str):
    return ("p", ox.NamedNode(iri))


TYPE_OF = ("seq", (step(RDF_TYPE), ("star", step(RDFS_SUBCLASS))))  # a/rdfs:subClassOf*


def seq(*parts):
    flat = []
    for x in parts:
        flat.extend(x[1] if x[0] == "seq" else (x,))
    return flat[0] if len(flat) == 1 else ("seq", tuple(flat))


def inv(x):
    if x[0] == "seq":
        return ("seq", tuple(inv(y) for y in reversed(x[1])))
    if x[0] == "inv":
        return x[1]
    if x[0] == "alt":
        return ("alt", tuple(inv(y) for y in x[1]))
    if x[0] in ("star", "plus", "opt"):
        return (x[0], inv(x[1]))
    return ("inv", x)


def alt(options):
    options = tuple(dict.fromkeys(options))
    return options[0] if len(options) == 1 else ("alt", options)


def weight(x) -> int:
    """How far a walk along `x` may spread: steps, a closure much more, any predicate more."""
    kind = x[0]
    if kind == "p":
        return 1
    if kind == "any":
        return 5
    if kind == "inv" or kind == "opt":
        return weight(x[1])
    if kind == "seq":
        return sum(weight(y) for y in x[1])
    if kind == "alt":
        return max(weight(y) for y in x[1])
    return 20 * weight(x[1])  # star, plus


def positions(x) -> list:
    """Every way a single triple is one step of a walk along `x`: (predicate or None for any,
    forward?, the path before it, the path after it)."""
    kind = x[0]
    if kind == "p":
        return [(x[1], True, EMPTY, EMPTY)]
    if kind == "any":
        return [(None, True, EMPTY, EMPTY)]
    if kind == "inv":
        return [(p, not fwd, inv(post), inv(pre)) for p, fwd, pre, post in positions(x[1])]
    if kind == "seq":
        out = []
        for i, part in enumerate(x[1]):
            before, after = seq(*x[1][:i]) if i else EMPTY, seq(*x[1][i + 1:]) if i + 1 < len(x[1]) else EMPTY
            out += [(p, fwd, seq(before, pre), seq(post, after)) for p, fwd, pre, post in positions(part)]
        return out
    if kind == "alt":
        return [pos for y in x[1] for pos in positions(y)]
    if kind == "opt":
        return positions(x[1])
    around = ("star", x[1])  # star, plus: any number of rounds before and after the one that takes it
    return [(p, fwd, seq(around, pre), seq(post, around)) for p, fwd, pre, post in positions(x[1])]


def walk(store: ox.Store, x, nodes: set, forward: bool = True) -> set:
    """The nodes reached from `nodes` along path `x` in the default graph of `store`
    (against its direction when forward=False)."""
    kind = x[0]
    dg = ox.DefaultGraph()
    if kind in ("p", "any"):
        pred = x[1] if kind == "p" else None
        out = set()
        if forward:
            for n in nodes:
                if not isinstance(n, ox.Literal):
                    out.update(q.object for q in store.quads_for_pattern(n, pred, None, dg))
        else:
            for n in nodes:
                out.update(q.subject for q in store.quads_for_pattern(None, pred, n, dg))
        return out
    if kind == "inv":
        return walk(store, x[1], nodes, not forward)
    if kind == "seq":
        parts = x[1] if forward else tuple(reversed(x[1]))
        for part in parts:
            if not nodes:
                break
            nodes = walk(store, part, nodes, forward)
        return set(nodes)
    if kind == "alt":
        return set().union(*(walk(store, y, nodes, forward) for y in x[1]))
    if kind == "opt":
        return set(nodes) | walk(store, x[1], nodes, forward)
    seen = set(nodes) if kind == "star" else set()
    frontier = set(nodes)
    while frontier:
        frontier = walk(store, x[1], frontier, forward) - seen
        seen |= frontier
    return seen


# -- the pattern graph of a shape -----------------------------------------------------------
@dataclass(frozen=True)
class Edge:
    a: object  # a variable ("?name") or an Oxigraph term
    path: tuple
    b: object
    scope: tuple = ()  # ((union id, branch), ...): the UNION branches it sits in


class Unreadable(Exception):
    """A pattern this analysis does not follow (a sub-select, GRAPH, SERVICE): the shape is ALL."""


@dataclass
class Reach:
    """One node shape's pattern graph and, per edge end, the route from the root."""

    edges: list = field(default_factory=list)
    everything: bool = False  # ALL whatever changes
    index: dict = field(default_factory=lambda: defaultdict(list))  # predicate|None -> [(path back, at subject?)]

    def prepare(self) -> None:
        routes: dict = {}
        for edge in self.edges:
            for p, fwd, pre, post in positions(edge.path):
                best = None
                for end, tail, at_subject in ((edge.a, pre, fwd), (edge.b, inv(post), not fwd)):
                    route = routes[end, edge.scope] if (end, edge.scope) in routes else \
                        routes.setdefault((end, edge.scope), self.route(end, edge.scope))
                    if route is None:
                        continue
                    back = seq(route, tail)
                    if best is None or weight(back) < weight(best[0]):
                        best = (back, at_subject)
                if best is None:
                    self.everything = True
                    return
                self.index[p].append(best)

    def route(self, end, scope):
        """Every simple path from ?this to `end` (through variables only), alternated; None when no
        path of edges compatible with `scope` (not in another branch of one of its UNIONs) gets there."""
        if end == "?this":
            return EMPTY
        found, compatible = [], False
        stack = [("?this", (), frozenset(["?this"]), True)]
        while stack:
            node, steps, seen, ok = stack.pop()
            for e in self.edges:
                for here, there, x in ((e.a, e.b, e.path), (e.b, e.a, inv(e.path))):
                    if here != node or there in seen:
                        continue
                    fits = ok and _compatible(e.scope, scope)
                    if there == end:
                        found.append(seq(*steps, x))
                        compatible = compatible or fits
                    elif isinstance(there, str):
                        if len(found) > 64:
                            return None
                        stack.append((there, steps + (x,), seen | {there}, fits))
        return alt(found) if found and compatible else None


def _compatible(a: tuple, b: tuple) -> bool:
    branches = dict(a)
    return all(branches.get(u, k) == k for u, k in b)


def reach_of(shapes, shape) -> Reach:
    """The pattern graph of a top-level node shape of fastshacl.Shapes."""
    out = Reach()
    fresh = count()
    g = shapes.g

    def var() -> str:
        return f"?_v{next(fresh)}"

    def edge(a, x, b, scope=()):
        out.edges.append(Edge(a, x, b, scope))

    def on(s, node: str) -> None:  # shape `s` applied to `node`: its value constraints and properties
        from chainkg.build.terms import to_ox

        if s.params.get("deactivated"):
            return
        if "class" in s.params:
            edge(node, TYPE_OF, to_ox(s.params["class"]))
        for member in s.params.get("or", ()):
            on(member, node)
        if "qualifiedValueShape" in s.params:
            on(s.params["qualifiedValueShape"], node)
        for prop in s.properties:
            if prop.params.get("deactivated"):
                continue
            v = var()
            edge(node, shape_path(g, prop.path), v)
            on(prop, v)
        for _node, select, _messages in s.sparql:
            sparql_edges(select, node, out, fresh)

    from chainkg.build.terms import to_ox

    try:
        for kind, value in shape.targets:
            if kind == "targetClass":
                edge("?this", TYPE_OF, to_ox(value))
            elif kind == "targetSubjectsOf":
                edge("?this", ("p", to_ox(value)), var())
            elif kind == "targetObjectsOf":
                edge(var(), ("p", to_ox(value)), "?this")
            elif kind == "sparql":
                sparql_edges(value, "?this", out, fresh)
        on(shape, "?this")
        out.prepare()
    except Unreadable:
        out.everything = True
    return out


def shape_path(g, p):
    """A SHACL path in the shapes graph as a path tree."""
    from rdflib import URIRef
    from rdflib.collection import Collection
    from rdflib.namespace import RDF

    from chainkg.build.fastshacl import SH

    if isinstance(p, URIRef):
        return ("p", ox.NamedNode(str(p)))
    if (p, RDF.first, None) in g:
        return seq(*(shape_path(g, x) for x in Collection(g, p)))
    for key, kind in (("inversePath", "inv"), ("zeroOrMorePath", "star"), ("oneOrMorePath", "plus"),
                      ("zeroOrOnePath", "opt")):
        inner = g.value(p, URIRef(SH + key))
        if inner is not None:
            return inv(shape_path(g, inner)) if kind == "inv" else (kind, shape_path(g, inner))
    members = g.value(p, URIRef(SH + "alternativePath"))
    if members is not None:
        return alt([shape_path(g, x) for x in Collection(g, members)])
    raise Unreadable(f"path {p!r}")


def sparql_edges(select: str, root: str, out: Reach, fresh) -> None:
    """The triple patterns of a SHACL SPARQL select (with $this) as edges; its ?this is `root`, its
    other variables renamed apart from every other query's."""
    import re

    from rdflib import BNode, Variable
    from rdflib.plugins.sparql import prepareQuery

    try:
        query = prepareQuery(re.sub(r"\$(\w+)", r"?\1", select))
    except Exception as e:  # noqa: BLE001 - the validator reports a query that does not parse
        raise Unreadable(str(e)) from None
    tag = f"?_q{next(fresh)}_"
    unions = count()

    def term(t):
        from chainkg.build.terms import to_ox

        if isinstance(t, Variable):
            return root if str(t) == "this" else f"{tag}{t}"
        if isinstance(t, BNode):
            return f"{tag}b{t}"
        return to_ox(t)

    def visit(node, scope: tuple, projected: bool) -> None:  # projected: below the query's own Project
        from rdflib.plugins.sparql.parserutils import CompValue

        if isinstance(node, (list, tuple)):
            for x in node:
                visit(x, scope, projected)
            return
        if not isinstance(node, CompValue):
            return
        name = node.name
        if name in ("SubSelect", "Graph", "GraphGraphPattern", "ServiceGraphPattern", "Service") or \
                (name == "Project" and projected):
            raise Unreadable(name)  # a sub-select's variables are its own; a graph is not the data graph
        projected = projected or name == "Project"
        if name in ("Union", "GroupOrUnionGraphPattern"):
            branches = [node.p1, node.p2] if name == "Union" else list(node.graph)
            if len(branches) > 1:
                u = next(unions)
                for k, branch in enumerate(branches):
                    visit(branch, scope + ((u, k),), projected)
                return
        if name in ("Extend", "Bind") and isinstance(node.expr, Variable):
            out.edges.append(Edge(term(node.expr), EMPTY, term(node.var), scope))
        for key, value in node.items():
            if key == "triples":
                for s, p, o in _triples(value):
                    out.edges.append(Edge(term(s), rdflib_path(p, term), term(o), scope))
            elif key not in ("_vars", "PV", "var", "datasetClause", "prologue"):
                visit(value, scope, projected)

    visit(query.algebra, (), False)


def _triples(value):
    """The triples of a BGP (tuples) or of a TriplesBlock left untranslated in an EXISTS (lists)."""
    for t in value:
        if isinstance(t, (list, tuple)) and len(t) == 3:
            yield t
        elif isinstance(t, (list, tuple)):
            yield from (tuple(t[i:i + 3]) for i in range(0, len(t) - 2, 3))


def rdflib_path(p, term):
    """An rdflib predicate or property path as a path tree; a variable predicate is ANY."""
    from rdflib import URIRef, Variable
    from rdflib.paths import AlternativePath, InvPath, MulPath, NegatedPath, SequencePath

    if isinstance(p, Variable):
        return ANY
    if isinstance(p, URIRef):
        return ("p", ox.NamedNode(str(p)))
    if isinstance(p, InvPath):
        return inv(rdflib_path(p.arg, term))
    if isinstance(p, SequencePath):
        return seq(*(rdflib_path(x, term) for x in p.args))
    if isinstance(p, AlternativePath):
        return alt([rdflib_path(x, term) for x in p.args])
    if isinstance(p, MulPath):
        return ({"*": "star", "+": "plus", "?": "opt"}[p.mod], rdflib_path(p.path, term))
    if isinstance(p, NegatedPath):
        return alt([ANY, inv(ANY)])
    raise Unreadable(f"path {p!r}")


# -- affected focus nodes ------------------------------------------------------------------
def reaches(shapes) -> dict:
    """{top-level node shape (rdflib node): Reach} for fastshacl.Shapes."""
    return {s.node: reach_of(shapes, s) for s in shapes.node_shapes if not s.params.get("deactivated")}


def affected(reach: dict, old: ox.Store, new: ox.Store, removed, added) -> dict:
    """{node shape: the focus nodes whose results can differ, or ALL} for triples `removed` (found in
    `old`'s default graph) and `added` (in `new`'s)."""
    out: dict = {}
    for shape, r in reach.items():
        if r.everything:
            out[shape] = ALL
            continue
        starts: dict = defaultdict(set)  # (store index, path back) -> nodes to walk back from
        for which, triples in ((0, removed), (1, added)):
            for s, p, o in triples:
                for back, at_subject in r.index.get(p, []) + r.index.get(None, []):
                    starts[which, back].add(s if at_subject else o)
        nodes: set = set()
        for (which, back), ends in starts.items():
            nodes |= walk((old, new)[which], back, ends, forward=False)
        out[shape] = nodes
    return out


def revalidate(validator, reach: dict, old_results: list, old: ox.Store, removed, added) -> tuple[list, dict]:
    """The results of `validator` (fastshacl.Validator on the data after the edit) equal to a whole
    run, from the results before it (`old_results`, on `old`): the old results of the focus nodes
    the edit cannot change, and a run on those it can. Returns (results, the affected nodes)."""
    hit = affected(reach, old, validator.store, removed, added)

    def stays(r) -> bool:
        nodes = hit.get(r.top.node, set())
        return nodes != ALL and r.focus not in nodes

    return [r for r in old_results if stays(r)] + validator.run(hit), hit


# -- results kept from one build to the next -------------------------------------------------
def dump_results(results: list) -> list:
    """fastshacl Results as JSON-ready rows: focus, node shape, shape, component, value, path and
    messages, each term in N-Triples form, each shape by its key (fastshacl.Shapes.by_key)."""
    rows = []
    for r in results:
        path = "=" if r.path is not None and r.path == r.shape.path else (r.path.n3() if r.path is not None else None)
        rows.append([str(r.focus), r.top.key, r.shape.key, r.component, str(r.value) if r.value is not None else None,
                     path, None if r.messages is None else [[str(m), m.language] for m in r.messages]])
    return rows


def load_results(rows: list, shapes) -> list:
    """dump_results' rows as Results of `shapes` (the same shapes, read again); KeyError for a shape
    these shapes do not have."""
    from rdflib import Literal, URIRef

    from chainkg.build.fastshacl import Result

    out = []
    for focus, top, key, component, value, path, messages in rows:
        shape = shapes.by_key[key]
        out.append(Result(
            focus=_term(focus), shape=shape, component=component,
            value=_term(value) if value is not None else None,
            path=shape.path if path == "=" else (URIRef(path[1:-1]) if path is not None else None),
            messages=None if messages is None else [Literal(text, lang=lang) for text, lang in messages],
            top=shapes.by_key[top]))
    return out


def _term(text: str):
    """A term from its N-Triples form (a blank node keeps its label)."""
    quad = next(iter(ox.parse(input=f"<urn:x:s> <urn:x:p> {text} .", format=ox.RdfFormat.N_TRIPLES)))
    return quad.object
