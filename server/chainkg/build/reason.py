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


def _normalise(term):
    from rdflib import Literal
    from rdflib.namespace import XSD

    if isinstance(term, Literal) and term.datatype == XSD.string and term.language is None:
        return Literal(str(term))
    return term


def clean(triples, asserted) -> set:
    """The genuinely new, meaningful triples of a closure."""
    from rdflib import Literal

    out = set()
    for s, p, o in triples:
        s, o = _normalise(s), _normalise(o)
        if isinstance(s, Literal):
            continue
        if str(s).startswith(AXIOMATIC_NAMESPACES):
            continue
        if str(p) in REFLEXIVE_NOISE and s == o:
            continue
        if str(p) == RDF_NS + "type" and str(o) in TRIVIAL_TYPES:
            continue
        if (s, p, o) in asserted:
            continue
        out.add((s, p, o))
    return out


def _check_consistency(triples) -> None:
    """Engine-independent checks on a closure, plus owlrl's own error markers."""
    from collections import defaultdict

    from rdflib.namespace import OWL, RDF

    problems = []
    types = defaultdict(set)
    disjoint, same, different = [], [], set()
    for s, p, o in triples:
        if str(p) == ERR_NS + "error":
            problems.append(str(o))
        elif p == RDF.type:
            types[s].add(o)
            if o == OWL.Nothing:
                problems.append(f"{s.n3()} is a member of owl:Nothing")
        elif p == OWL.disjointWith:
            disjoint.append((s, o))
        elif p == OWL.sameAs and s != o:
            same.append((s, o))
        elif p == OWL.differentFrom:
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
    from rdflib.namespace import OWL, RDF

    first, rest, heads = {}, {}, []
    for s, p, o in triples:
        if p == RDF.first:
            first[s] = o
        elif p == RDF.rest:
            rest[s] = o
        elif p == OWL.propertyChainAxiom:
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

    by_pred = defaultdict(lambda: defaultdict(set))
    for s, p, o in triples:
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

    base = set(graph)
    chains = _property_chains(base)
    while True:
        r = reasonable.PyReasoner()
        r.from_graph(list(base))
        closure = {(s, p, _normalise(o)) for s, p, o in r.reason()} | base
        extra = _apply_chains(closure, chains)
        if not extra:
            # reasonable signals inconsistency through owl:Nothing memberships (checked later);
            # owlrl-style error markers never appear in its output.
            return closure
        base = closure | extra


def reason(graph, engine: str = "reasonable") -> set:
    """Return the cleaned inferred triples of `graph` (an rdflib Graph: ontology + asserted)."""
    if engine not in ENGINES:
        raise ValueError(f"unknown reasoner {engine!r}; choose one of {', '.join(ENGINES)}")
    closure = _owlrl(graph) if engine == "owlrl" else _reasonable(graph)
    _check_consistency(closure)
    return clean(closure, graph)


def data_inferences(triples, ontology_ns: str = "https://w3id.org/chainkg/") -> set:
    """The inferences about data (not about vocabulary terms): what the engines must agree on."""
    return {
        t
        for t in triples
        if str(t[0]).startswith(ontology_ns) and not str(t[0]).startswith(ontology_ns + "ontology")
    }
