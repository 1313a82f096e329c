"""Step 3: OWL 2 RL closure over ontology + asserted data; only the new triples are kept.

Two engines behind one option: owlrl (the reference, pure Python) and reasonable (Rust, the
default by measurement: see scripts/benchmark_build.py). Both outputs are cleaned the same way:
reflexive owl:sameAs and reflexive schema triples, literal subjects, triples about the
rdf:/rdfs:/owl:/xsd: vocabularies, and the trivial `rdf:type owl:Thing / rdfs:Resource` are
dropped; xsd:string-typed literals are written as plain literals (RDF 1.1 treats them as equal).
owlrl's inconsistency markers (err:ErrorMessage) stop the build.
"""

from __future__ import annotations

ENGINES = ("reasonable", "owlrl")

RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS_NS = "http://www.w3.org/2000/01/rdf-schema#"
OWL_NS = "http://www.w3.org/2002/07/owl#"
XSD_NS = "http://www.w3.org/2001/XMLSchema#"
ERR_NS = "http://www.daml.org/2002/03/agents/agent-ont#"
AXIOMATIC_NAMESPACES = (RDF_NS, RDFS_NS, OWL_NS, XSD_NS, ERR_NS)
REFLEXIVE_NOISE = {
    OWL_NS + "sameAs",
    RDFS_NS + "subClassOf",
    RDFS_NS + "subPropertyOf",
    OWL_NS + "equivalentClass",
    OWL_NS + "equivalentProperty",
}
TRIVIAL_TYPES = {OWL_NS + "Thing", RDFS_NS + "Resource", OWL_NS + "NamedIndividual"}


class InconsistencyError(Exception):
    """The data contradicts the ontology (owlrl error markers, or owl:Nothing members)."""


_XSD_STRING = XSD_NS + "string"

from rdflib import Literal as _Literal  # noqa: E402 - _normalise runs once per closure triple


def _normalise(term):
    if type(term) is _Literal and term.language is None and term.datatype is not None \
            and str(term.datatype) == _XSD_STRING:
        return _Literal(str(term))
    return term


def clean(triples, asserted) -> set:
    """The genuinely new, meaningful triples of a closure."""
    from rdflib import Literal, URIRef

    rdf_type = URIRef(RDF_NS + "type")
    noise, trivial = {URIRef(i) for i in REFLEXIVE_NOISE}, {URIRef(i) for i in TRIVIAL_TYPES}
    out = set()
    for s, p, o in triples:
        s, o = _normalise(s), _normalise(o)
        if isinstance(s, Literal):
            continue
        if str(s).startswith(AXIOMATIC_NAMESPACES):
            continue
        if p in noise and s == o:
            continue
        if p == rdf_type and o in trivial:
            continue
        if (s, p, o) in asserted:
            continue
        out.add((s, p, o))
    return out


def _check_consistency(triples) -> None:
    """Engine-independent checks on a closure, plus owlrl's own error markers."""
    from collections import defaultdict

    from rdflib import URIRef

    err, rdf_type, nothing = URIRef(ERR_NS + "error"), URIRef(RDF_NS + "type"), URIRef(OWL_NS + "Nothing")
    disjoint_with, same_as = URIRef(OWL_NS + "disjointWith"), URIRef(OWL_NS + "sameAs")
    different_from = URIRef(OWL_NS + "differentFrom")
    watched = {err, rdf_type, disjoint_with, same_as, different_from}
    problems = []
    types = defaultdict(set)
    disjoint, same, different = [], [], set()
    for s, p, o in triples:
        if p not in watched:
            continue
        if p == err:
            problems.append(str(o))
        elif p == rdf_type:
            types[s].add(o)
            if o == nothing:
                problems.append(f"{s.n3()} is a member of owl:Nothing")
        elif p == disjoint_with:
            disjoint.append((s, o))
        elif p == same_as and s != o:
            same.append((s, o))
        elif p == different_from:
            different.add((s, o))
    for c1, c2 in disjoint:
        for node, classes in types.items():
            if c1 in classes and c2 in classes:
                problems.append(f"{node.n3()} is both {c1.n3()} and {c2.n3()}, declared disjoint")
    for a, b in same:
        if (a, b) in different or (b, a) in different:
            problems.append(f"{a.n3()} is owl:sameAs and owl:differentFrom {b.n3()}")
    if problems:
        raise InconsistencyError("; ".join(sorted(set(problems))[:10]))


def _owlrl(graph):
    import owlrl
    from rdflib import Graph

    g = Graph()
    for t in graph:
        g.add(t)
    owlrl.DeductiveClosure(
        owlrl.OWLRL_Semantics, axiomatic_triples=False, datatype_axioms=False
    ).expand(g)
    return list(g)


def _property_chains(triples) -> list:
    """The owl:propertyChainAxiom declarations: [(super_property, [p1, p2, ...])]."""
    from rdflib import URIRef

    rdf_first, rdf_rest = URIRef(RDF_NS + "first"), URIRef(RDF_NS + "rest")
    chain_axiom = URIRef(OWL_NS + "propertyChainAxiom")
    watched = {rdf_first, rdf_rest, chain_axiom}
    first, rest, heads = {}, {}, []
    for s, p, o in triples:
        if p not in watched:
            continue
        if p == rdf_first:
            first[s] = o
        elif p == rdf_rest:
            rest[s] = o
        else:
            heads.append((s, o))
    chains = []
    for prop, node in heads:
        steps = []
        while node in first:
            steps.append(first[node])
            node = rest.get(node)
        if len(steps) >= 2:
            chains.append((prop, steps))
    return chains


def _apply_chains(triples: set, chains) -> set:
    """prp-spo2: for a chain p1 o ... o pn -> p, add (x p y) for every path x p1 .. pn y."""
    from collections import defaultdict

    wanted = {step for _prop, steps in chains for step in steps}
    by_pred = defaultdict(lambda: defaultdict(set))
    if wanted:
        for s, p, o in triples:
            if p in wanted:
                by_pred[p][s].add(o)
    new = set()
    for prop, steps in chains:
        frontier = {(s, o) for s, objs in by_pred[steps[0]].items() for o in objs}
        for step in steps[1:]:
            edges = by_pred[step]
            frontier = {(s, o2) for s, o in frontier for o2 in edges.get(o, ())}
        new |= {(s, prop, o) for s, o in frontier if (s, prop, o) not in triples}
    return new


def _reasonable(graph):
    """reasonable 0.4.4 implements OWL 2 RL except prp-spo2 (property chains), measured against
    owlrl on this graph; that one rule is applied here, alternating with reasonable to a fixpoint."""
    import reasonable

    r = reasonable.PyReasoner()
    r.from_graph(list(graph))
    return _to_fixpoint(r, set(graph))


def _to_fixpoint(r, base: set) -> set:
    """Alternate the reasoner `r` (loaded with the base triples) and the property-chain rule until
    neither adds anything. The chain's triples are added to the same reasoner, which then
    materialises incrementally (from_graph adds to its base; measured equal to a fresh run)."""
    closure = {(s, p, _normalise(o)) for s, p, o in r.reason()} | base
    chains = _property_chains(closure)
    while True:
        extra = _apply_chains(closure, chains)
        if not extra:
            # reasonable signals inconsistency through owl:Nothing memberships (checked later);
            # owlrl-style error markers never appear in its output.
            return closure
        r.from_graph(list(extra))
        closure = {(s, p, _normalise(o)) for s, p, o in r.reason()} | closure | extra


def _asserted_set(store) -> set:
    """The default graph of an Oxigraph store as a set of rdflib triples (terms converted once each)."""
    import pyoxigraph as ox

    from chainkg.build.terms import to_rdflib

    memo: dict = {}

    def conv(t):
        r = memo.get(t)
        if r is None:
            r = memo[t] = _normalise(to_rdflib(t))
        return r

    return {(conv(q.subject), conv(q.predicate), conv(q.object))
            for q in store.quads_for_pattern(None, None, None, ox.DefaultGraph())}


_SCHEMA_NS = (RDF_NS, RDFS_NS, OWL_NS)
_ANNOTATIONS = {RDFS_NS + "label", RDFS_NS + "comment", RDFS_NS + "seeAlso", RDFS_NS + "isDefinedBy"}


def _is_schema(p, o) -> bool:
    """A triple any rule may join with (an axiom, a restriction, a list): kept in every pass."""
    p = str(p)
    if p == RDF_NS + "type":
        return str(o).startswith(_SCHEMA_NS)
    return p.startswith(_SCHEMA_NS) and p not in _ANNOTATIONS


def _reasonable_store(store, asserted: set) -> set:
    """reasonable reading the store's default graph from an N-Triples file (its own parser), not
    from rdflib terms built in Python. Literals come out as the store holds them (Oxigraph keeps
    numbers in canonical form: "20.0"^^xsd:decimal is "20"), as the frozen store would anyway.

    The property chain's triples (prp-spo2, which reasonable lacks) are then closed over their
    neighbourhood only, not by a second pass over everything (which costs as much as the first):
    every OWL 2 RL rule joins its premises through shared nodes, so a consequence of the new
    triples rests on schema triples and on triples touching nodes the new ones touch; the
    neighbourhood grows until a pass adds no new node. tests/test_scale.py compares the result
    with the full alternation of `_reasonable`."""
    import os
    import tempfile

    import pyoxigraph as ox
    import reasonable

    fd, path = tempfile.mkstemp(suffix=".ttl")  # N-Triples is Turtle; reasonable reads .ttl
    os.close(fd)
    try:
        store.dump(path, ox.RdfFormat.N_TRIPLES, from_graph=ox.DefaultGraph())
        r = reasonable.PyReasoner()
        r.load_file(path)
    finally:
        os.unlink(path)
    closure = {(s, p, _normalise(o)) for s, p, o in r.reason()} | asserted
    del r
    chains = _property_chains(closure)
    schema = [t for t in closure if _is_schema(t[1], t[2])]
    from rdflib import URIRef

    rdf_type = URIRef(RDF_NS + "type")

    def ends(t):  # the nodes a rule can join on (a class is joined through its instances' triples)
        return (t[0],) if t[1] == rdf_type else (t[0], t[2])

    new = _apply_chains(closure, chains)
    nodes: set = set()
    while new:
        closure |= new
        grown = {n for t in new for n in ends(t)} - nodes
        nodes |= grown
        while grown:  # close the neighbourhood of every node the new triples touch
            sub = set(schema)
            sub.update(t for t in closure if t[0] in nodes or (t[2] in nodes and t[1] != rdf_type))
            sr = reasonable.PyReasoner()
            sr.from_graph(list(sub))
            found = {(s, p, _normalise(o)) for s, p, o in sr.reason()} - closure
            closure |= found
            grown = {n for t in found for n in ends(t)} - nodes
            nodes |= grown
        new = _apply_chains(closure, chains)
    return closure


def reason(graph, engine: str = "reasonable") -> set:
    """Return the cleaned inferred triples of `graph`: an rdflib Graph of ontology + asserted, or
    an Oxigraph Store whose default graph holds them (read without rdflib by `reasonable`)."""
    closure, asserted = closure_of(graph, engine)
    return clean(closure, asserted)


def closure_of(graph, engine: str = "reasonable") -> tuple[set, set]:
    """(the whole closure, the asserted triples) of `graph`, checked for consistency; clean()
    of the two is what `reason` returns. chainkg.build.provenance traces the closure."""
    if engine not in ENGINES:
        raise ValueError(f"unknown reasoner {engine!r}; choose one of {', '.join(ENGINES)}")
    import pyoxigraph as ox

    if isinstance(graph, ox.Store):
        asserted = _asserted_set(graph)
        closure = _owlrl(asserted) if engine == "owlrl" else _reasonable_store(graph, asserted)
    else:
        asserted = graph
        closure = _owlrl(graph) if engine == "owlrl" else _reasonable(graph)
    _check_consistency(closure)
    if not isinstance(closure, set):
        closure = {(s, p, _normalise(o)) for s, p, o in closure}
    return closure, asserted


def data_inferences(triples, ontology_ns: str = "https://w3id.org/chainkg/") -> set:
    """The inferences about data (not about vocabulary terms): what the engines must agree on."""
    return {
        t
        for t in triples
        if str(t[0]).startswith(ontology_ns) and not str(t[0]).startswith(ontology_ns + "ontology")
    }
