"""Inference provenance: which claims every inferred triple rests on (issue #15 item 1).

The reasoner (reasonable or owlrl) hands back a closure without saying why each triple is in it.
`trace` derives the closure's data triples again, breadth first, with the OWL 2 RL rules the
ontology uses (cax-sco, prp-dom, prp-rng, prp-spo1, prp-inv1/2, prp-symp, prp-trp, prp-spo2,
cls-svf1/2, cls-hv1/2), accepting only conclusions the reasoner also reached. The schema
(subclass, subproperty, domain, range, inverse, chains, restrictions) is read from the closure,
so its own closure (scm-*) is already there. Breadth first, each triple keeps its shallowest
derivation: the rule, the axiom it applied, the direct premises. A premise the input states
rests on the graphs that state it (claims, graph/background, graph/provenance, an import);
an inferred premise on what its own derivation rests on. No derivation can cite itself, as a
triple is accepted only from premises accepted before it.

The result splits the reasoner's new triples in three:
- data: about the things of the graph (graph/inferred, every one of them);
- schema: about classes, properties, restrictions and other ontology nodes (graph/inferred-schema);
- groups: the data triples that rest on a claim, graph/background or graph/provenance, grouped by
  why they hold: (rule, axiom, the set of graphs they rest on). Each group is a named graph
  derivation/<hash of that key> holding its inferred triples (a second copy of them: graph/inferred
  keeps every one), described in graph/derivations: D a ck:Derivation; ck:rule the OWL 2 RL rule;
  ck:axiom the class or property whose axiom it applied; prov:wasDerivedFrom every graph it rests
  on; ck:derivedCount its triples; ck:premise the groups of its triples' inferred premises.
  ck:premise is at group level: "some triple of this group has a premise in that group", not
  which triple rests on which (the group itself is not listed among its own premises).
  Triples that rest on an import alone (graph/ext/...) are described by one record per set
  of imports (prov:wasDerivedFrom them, ck:derivedCount), not one by one, and have no graph: an
  import of 16k triples brings 40k inferences, which would double the import.
  One record per inferred triple (rdf:subject/predicate/object, rule, axiom, premises) cost 8.3
  triples per inferred triple; a group costs one quad per triple plus its description (on the
  real data, 4,999 inferred triples fall into about 1,400 groups).
`quads` yields the groups' graphs and descriptions as Oxigraph quads, one at a time.
`untraced` lists data triples none of these rules reaches (a construct added to the ontology that
the tracer does not know): the build reports them, and the tests require none.
"""

from __future__ import annotations

import hashlib
import heapq
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import count

from chainkg.build.load import DERIVATION_NS
from chainkg.config import BASE_IRI

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
CK = BASE_IRI + "ontology#"
PROV = "http://www.w3.org/ns/prov#"
EXT_GRAPH_NS = BASE_IRI + "graph/ext/"
LINKS_GRAPH_NS = BASE_IRI + "graph/links/"

# Predicates whose triples say something about vocabulary terms, whatever their subject.
SCHEMA_PREDICATES = {RDFS + t for t in ("subClassOf", "subPropertyOf", "domain", "range")} | {
    OWL + t for t in ("equivalentClass", "equivalentProperty", "inverseOf", "disjointWith", "propertyDisjointWith",
                      "onProperty", "someValuesFrom", "allValuesFrom", "hasValue", "propertyChainAxiom",
                      "intersectionOf", "unionOf", "complementOf", "oneOf", "members", "hasKey")}
NUMERIC = {"http://www.w3.org/2001/XMLSchema#" + t for t in ("decimal", "integer", "double", "float", "long", "int")}
SCHEMA_CLASSES = {OWL + t for t in ("Class", "ObjectProperty", "DatatypeProperty", "AnnotationProperty",
                                    "TransitiveProperty", "SymmetricProperty", "FunctionalProperty",
                                    "InverseFunctionalProperty", "Restriction", "Ontology")} | {
    RDFS + "Class", RDF + "Property", RDFS + "Datatype"}


@dataclass
class Provenance:
    data: set = field(default_factory=set)  # inferred data triples (rdflib terms)
    schema: set = field(default_factory=set)  # inferred schema-level triples
    derivations: dict = field(default_factory=dict)  # data triple -> (rule, axiom, premises, rests_on)
    groups: dict = field(default_factory=dict)  # group key (`group_key`) -> Group
    untraced: list = field(default_factory=list)  # data triples no rule reached
    import_only: int = 0  # data triples resting on imports alone (grouped records)

    def grouped(self) -> int:
        """Data triples in the groups' graphs (all the traced ones but those resting on imports alone)."""
        return sum(g.count for g in self.groups.values() if g.rule is not None)

    def description_size(self) -> int:
        """Triples of graph/derivations: the groups' descriptions."""
        return sum(g.size() for g in self.groups.values())

    def quads(self, conv=None):
        """The quads of the derivation groups, as Oxigraph terms, one at a time: each group's
        inferred triples in its own graph, then every group's description in graph/derivations.
        `conv` converts an rdflib term (default: chainkg.build.terms.to_ox, memoised here)."""
        return _quads(self, conv)


@dataclass
class Group:
    """Inferred data triples that hold for the same reason: one rule, one axiom, one set of graphs
    rested on (`rule` None: resting on imports alone, described but holding no graph)."""

    iri: str
    rule: str | None
    axiom: object  # rdflib term, or None
    rests: frozenset
    count: int = 0
    premises: set = field(default_factory=set)  # IRIs of the groups its triples' inferred premises are in

    def size(self) -> int:
        """Triples of its description in graph/derivations."""
        return (4 if self.rule is not None else 2) + len(self.rests) + len(self.premises)


def imports_only(rests) -> bool:
    return bool(rests) and all(g.startswith((EXT_GRAPH_NS, LINKS_GRAPH_NS)) for g in rests)


def group_key(why) -> tuple:
    """The key of the group a derivation (rule, axiom, premises, rests_on) belongs to."""
    rule, axiom, _premises, rests = why
    return (None, None, rests) if imports_only(rests) else (rule, axiom, rests)


def group_iri(key) -> str:
    """The group's IRI, a hash of its key (the same key gives the same IRI in every build)."""
    rule, axiom, rests = key
    if rule is None:
        return DERIVATION_NS + "imports-" + hashlib.sha1(" ".join(sorted(rests)).encode()).hexdigest()[:12]
    text = "\n".join([rule, axiom.n3() if axiom is not None else "", *sorted(rests)])
    return DERIVATION_NS + hashlib.sha1(text.encode()).hexdigest()[:16]


def _list(first: dict, rest: dict, node) -> list:
    out, seen = [], set()
    while node in first and node not in seen:
        seen.add(node)
        out.append(first[node])
        node = rest.get(node)
    return out


class _Schema:
    """The axioms of the closure that the data rules apply, indexed for them."""

    def __init__(self, closure):
        from rdflib import BNode, URIRef

        u = URIRef
        sub_class, sub_prop, equiv_class = u(RDFS + "subClassOf"), u(RDFS + "subPropertyOf"), u(OWL + "equivalentClass")
        domain, range_, inverse, rdf_type = u(RDFS + "domain"), u(RDFS + "range"), u(OWL + "inverseOf"), u(RDF + "type")
        on_prop, svf, has_value = u(OWL + "onProperty"), u(OWL + "someValuesFrom"), u(OWL + "hasValue")
        chain, first_p, rest_p = u(OWL + "propertyChainAxiom"), u(RDF + "first"), u(RDF + "rest")
        symmetric, transitive = u(OWL + "SymmetricProperty"), u(OWL + "TransitiveProperty")
        equiv_prop = u(OWL + "equivalentProperty")
        self.rdf_type, self.thing = rdf_type, u(OWL + "Thing")
        self.supers = defaultdict(set)  # class -> strict superclasses
        self.super_props = defaultdict(set)
        self.domain, self.range = defaultdict(set), defaultdict(set)
        self.inverse = defaultdict(set)
        self.symmetric, self.transitive = set(), set()
        self.on = on = {}
        some, value, first, rest, chains = {}, {}, {}, {}, []
        for s, p, o in closure:
            if p == sub_class and s != o:
                self.supers[s].add(o)
            elif p == equiv_class and s != o:
                self.supers[s].add(o)
                self.supers[o].add(s)
            elif p == sub_prop and s != o:
                self.super_props[s].add(o)
            elif p == equiv_prop and s != o:
                self.super_props[s].add(o)
                self.super_props[o].add(s)
            elif p == domain:
                self.domain[s].add(o)
            elif p == range_:
                self.range[s].add(o)
            elif p == inverse:
                self.inverse[s].add(o)
                self.inverse[o].add(s)
            elif p == rdf_type and o == symmetric:
                self.symmetric.add(s)
            elif p == rdf_type and o == transitive:
                self.transitive.add(s)
            elif p == on_prop:
                on[s] = o
            elif p == svf:
                some[s] = o
            elif p == has_value:
                value[s] = o
            elif p == first_p:
                first[s] = o
            elif p == rest_p:
                rest[s] = o
            elif p == chain:
                chains.append((s, o))
        # someValuesFrom: by property (cls-svf1/2 fire on an edge) and by filler class
        self.svf_by_prop, self.svf_by_class = defaultdict(list), defaultdict(list)
        for r, filler in some.items():
            if r in on:
                self.svf_by_prop[on[r]].append((r, filler))
                self.svf_by_class[filler].append((r, on[r]))
        # hasValue: cls-hv1 (x a R -> x p v) and cls-hv2 (x p v -> x a R)
        self.hv_by_class, self.hv_by_edge = {}, defaultdict(list)
        for r, v in value.items():
            if r in on:
                self.hv_by_class[r] = (on[r], v)
                self.hv_by_edge[(on[r], v)].append(r)
        self.chains = []  # (property, [steps])
        for prop, head in chains:
            steps = _list(first, rest, head)
            if len(steps) >= 2:
                self.chains.append((prop, steps))
        self.chain_steps = defaultdict(list)  # step property -> [(chain index, position)]
        for i, (_prop, steps) in enumerate(self.chains):
            for k, step in enumerate(steps):
                self.chain_steps[step].append((i, k))
        self.nodes = set()  # the schema's own nodes (restrictions, lists): never data
        self.nodes.update(on, some, value, first, rest)
        self.BNode = BNode


def schema_nodes(ontology_triples) -> set:
    """Every subject of the ontology graph: classes, properties, restrictions, lists, the concepts
    and units it defines. Inferred triples about them are schema-level."""
    return {s for s, _p, _o in ontology_triples}


def is_schema_triple(t, nodes: set) -> bool:
    s, p, o = t
    if s in nodes or str(p) in SCHEMA_PREDICATES:
        return True
    if str(p) == RDF + "type" and (str(o) in SCHEMA_CLASSES or o in nodes and type(o).__name__ == "BNode"):
        return True
    return False


def trace(closure: set, asserted_graphs: dict, inferred: set, ontology_nodes: set) -> Provenance:
    """Split `inferred` (the cleaned new triples) into data and schema and trace every data triple.

    closure: every triple the reasoner holds (asserted, inferred, noise); asserted_graphs:
    {asserted triple: [graph IRIs stating it]} for the non-ontology graphs; ontology_nodes: the
    subjects of graph/ontology."""
    schema = _Schema(closure)
    nodes = ontology_nodes | schema.nodes
    out = Provenance()
    for t in inferred:
        (out.schema if is_schema_triple(t, nodes) else out.data).add(t)

    rdf_type, thing = schema.rdf_type, schema.thing
    by_so = defaultdict(lambda: defaultdict(set))  # p -> s -> {o}
    by_os = defaultdict(lambda: defaultdict(set))  # p -> o -> {s}
    types = defaultdict(set)  # node -> classes known
    # triple -> (rule, axiom, premises, rests_on); asserted triples: (None, None, (), graphs)
    known: dict = {}
    depth: dict = {}  # triple -> 0 (asserted), or 1 + the deepest premise of its derivation
    heap: list = []
    tick = count()

    from rdflib import Literal

    # A number can be written two ways ("1200.0" asserted, "1200" in the closure): match by value.
    numeric = {}
    for t in closure:
        o = t[2]
        if type(o) is Literal and o.datatype is not None and str(o.datatype) in NUMERIC:
            numeric[(t[0], t[1], o.datatype, o.toPython())] = t

    def emit(t, rule, axiom, premises) -> None:
        if t not in closure:
            o = t[2]
            if type(o) is not Literal or o.datatype is None or str(o.datatype) not in NUMERIC:
                return
            t = numeric.get((t[0], t[1], o.datatype, o.toPython()))
            if t is None:
                return
        if t in known:
            return
        rests = frozenset().union(*(known[pr][3] for pr in premises))
        # ties on cost go to the first graphs in IRI order, then the shallowest derivation, the rule, the
        # axiom, the triple and the premises. The depth (1 + the deepest premise's) makes the key grow along
        # every derivation, so triples settle in key order and each one's derivation is the least of all
        # its derivations: what is chosen depends neither on set order, which varies per process
        # (PYTHONHASHSEED), nor on the order derivations are found in (chainkg.build.incremental settles
        # a part again and must choose alike)
        d = 1 + max(depth[pr] for pr in premises)
        heapq.heappush(heap, (len(rests), tuple(sorted(rests)), d, rule, str(axiom), (str(t[0]), str(t[1]), str(t[2])),
                              Tie(premises, str), next(tick), t, (rule, axiom, premises, rests)))

    for t, graphs in asserted_graphs.items():
        heapq.heappush(heap, (0, (), 0, "", "", (), _ASSERTED, next(tick), t, (None, None, (), frozenset(graphs))))

    # Knuth's generalisation of Dijkstra: a triple is settled with the derivation that rests on the
    # fewest graphs (a conclusion rests on at least what each premise rests on, so no later
    # derivation can do better); premises are always settled first, so no derivation is circular.
    while heap:
        *order, t, why = heapq.heappop(heap)
        if t in known:
            continue
        known[t] = why
        depth[t] = order[2]
        s, p, o = t
        if p == rdf_type:
            types[s].add(o)
            for c in schema.supers.get(o, ()):  # a restriction's axiom is named by its property
                emit((s, rdf_type, c), "cax-sco", schema.on.get(o, o), (t,))
            for r, prop in schema.svf_by_class.get(o, ()):  # cls-svf1, with t as the filler's type
                for x in by_os[prop].get(s, ()):
                    emit((x, rdf_type, r), "cls-svf1", prop, ((x, prop, s), t))
            hv = schema.hv_by_class.get(o)
            if hv:
                emit((s, hv[0], hv[1]), "cls-hv1", o, (t,))
            continue
        by_so[p][s].add(o)
        by_os[p][o].add(s)
        for c in schema.domain.get(p, ()):
            emit((s, rdf_type, c), "prp-dom", p, (t,))
        for q in schema.super_props.get(p, ()):
            emit((s, q, o), "prp-spo1", p, (t,))
        for r in schema.hv_by_edge.get((p, o), ()):
            emit((s, rdf_type, r), "cls-hv2", p, (t,))
        for r, filler in schema.svf_by_prop.get(p, ()):
            if filler == thing:
                emit((s, rdf_type, r), "cls-svf2", p, (t,))
            elif filler in types.get(o, ()):
                emit((s, rdf_type, r), "cls-svf1", p, (t, (o, rdf_type, filler)))
        if isinstance(o, Literal):
            continue
        for c in schema.range.get(p, ()):
            emit((o, rdf_type, c), "prp-rng", p, (t,))
        for q in schema.inverse.get(p, ()):
            emit((o, q, s), "prp-inv", p, (t,))
        if p in schema.symmetric:
            emit((o, p, s), "prp-symp", p, (t,))
        if p in schema.transitive:
            for y in list(by_so[p].get(o, ())):
                emit((s, p, y), "prp-trp", p, (t, (o, p, y)))
            for x in list(by_os[p].get(s, ())):
                emit((x, p, o), "prp-trp", p, ((x, p, s), t))
        for i, k in schema.chain_steps.get(p, ()):
            prop, steps = schema.chains[i]
            for path in _paths(steps, k, t, by_so, by_os):
                emit((path[0][0], prop, path[-1][2]), "prp-spo2", prop, tuple(path))

    for t in out.data:
        why = known.get(t)
        if why is None or why[0] is None:
            if t not in asserted_graphs:
                out.untraced.append(t)
            continue
        out.derivations[t] = why
    out.groups, out.import_only = _groups(out.derivations)
    return out


class Tie:
    """The last tie-break between two derivations of one triple with the same cost, graphs, rule and
    axiom: their premises' text (`text`: str for rdflib terms, the value for Oxigraph's), computed
    only when compared. Two Ties are never equal, so a heap entry never compares past one."""

    __slots__ = ("premises", "text", "_key")

    def __init__(self, premises, text):
        self.premises, self.text, self._key = premises, text, None

    def key(self) -> tuple:
        if self._key is None:
            self._key = tuple(tuple(self.text(x) for x in t) for t in self.premises)
        return self._key

    def __lt__(self, other) -> bool:
        return self.key() < other.key()


_ASSERTED = Tie((), str)


def _paths(steps, k, t, by_so, by_os):
    """Every path p1 .. pn through the known edges with `t` as step k (prp-spo2)."""
    lefts = [[t]]
    for step in reversed(steps[:k]):  # extend leftwards
        lefts = [[(x, step, path[0][0])] + path for path in lefts for x in by_os[step].get(path[0][0], ())]
    paths = lefts
    for step in steps[k + 1:]:
        paths = [path + [(path[-1][2], step, y)] for path in paths for y in by_so[step].get(path[-1][2], ())]
    return paths


def _groups(derivations: dict) -> tuple[dict, int]:
    """The groups of the derivations ({key: Group}) and how many data triples rest on imports alone."""
    groups: dict = {}
    for why in derivations.values():
        key = group_key(why)
        g = groups.get(key)
        if g is None:
            g = groups[key] = Group(group_iri(key), key[0], key[1], key[2])
        g.count += 1
        if key[0] is None:
            continue
        for pr in why[2]:
            pw = derivations.get(pr)
            if pw is not None:
                pk = group_key(pw)
                if pk != key:
                    g.premises.add(pk)
    for g in groups.values():  # premise keys -> IRIs (every premise's group is a key of groups)
        g.premises = {groups[k].iri for k in g.premises}
    return groups, sum(g.count for g in groups.values() if g.rule is None)


def _quads(prov: Provenance, conv=None):
    import pyoxigraph as ox

    if conv is None:
        from chainkg.build.terms import to_ox

        conv = lru_cache(maxsize=None)(to_ox)  # a group's description repeats its terms: convert each once

    nodes = {key: ox.NamedNode(g.iri) for key, g in prov.groups.items()}
    for t, why in prov.derivations.items():
        key = group_key(why)
        if key[0] is not None:
            yield ox.Quad(conv(t[0]), conv(t[1]), conv(t[2]), nodes[key])
    for key in sorted(prov.groups, key=lambda k: prov.groups[k].iri):
        yield from description_quads(prov.groups[key], conv)


def description_quads(group: Group, conv):
    """The quads describing one group in graph/derivations (`conv`: rdflib term -> Oxigraph term,
    for the axiom; an Oxigraph axiom is kept as it is)."""
    import pyoxigraph as ox

    g, a, derivation, rule_p, axiom_p, premise_p, derived_from, count_p, integer = _description_terms()
    d = ox.NamedNode(group.iri)
    yield ox.Quad(d, a, derivation, g)
    yield ox.Quad(d, count_p, ox.Literal(str(group.count), datatype=integer), g)
    if group.rule is not None:
        yield ox.Quad(d, rule_p, ox.Literal(group.rule), g)
        axiom = group.axiom
        yield ox.Quad(d, axiom_p, axiom if isinstance(axiom, (ox.NamedNode, ox.BlankNode)) else conv(axiom), g)
    for r in sorted(group.rests):
        yield ox.Quad(d, derived_from, ox.NamedNode(r), g)
    for p in sorted(group.premises):
        yield ox.Quad(d, premise_p, ox.NamedNode(p), g)


@lru_cache(maxsize=1)
def _description_terms() -> tuple:
    """The terms every group's description uses, made once (a build at 1M describes 200k groups)."""
    import pyoxigraph as ox

    from chainkg.build.load import DERIVATIONS_GRAPH

    return (ox.NamedNode(DERIVATIONS_GRAPH), ox.NamedNode(RDF + "type"), ox.NamedNode(CK + "Derivation"),
            ox.NamedNode(CK + "rule"), ox.NamedNode(CK + "axiom"), ox.NamedNode(CK + "premise"),
            ox.NamedNode(PROV + "wasDerivedFrom"), ox.NamedNode(CK + "derivedCount"),
            ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer"))


def trace_inputs(inputs, closure: set, inferred: set) -> Provenance:
    """`trace` for the pipeline: which graphs state each asserted triple, read from the inputs'
    named graphs (Oxigraph terms converted once each, literals as the reasoner normalises them)."""
    from chainkg.build.load import ONTOLOGY_GRAPH
    from chainkg.build.reason import _normalise
    from chainkg.build.terms import to_rdflib

    memo: dict = {}

    def conv(x):
        r = memo.get(x)
        if r is None:
            r = memo[x] = _normalise(to_rdflib(x))
        return r

    graphs: dict = defaultdict(list)
    ontology: set = set()
    for name, quads in inputs.quads.items():
        for q in quads:
            t = (conv(q.subject), conv(q.predicate), conv(q.object))
            if name == ONTOLOGY_GRAPH:
                ontology.add(t[0])
            g = graphs[t]
            if name not in g:
                g.append(name)
    return trace(closure, graphs, inferred, ontology)


def closure_store(inputs, prov: Provenance):
    """An Oxigraph store whose default graph is asserted + ontology + inferred (data and schema):
    what the shapes check after reasoning."""
    import pyoxigraph as ox

    from chainkg.build.terms import to_ox

    st = ox.Store()
    st.extend(inputs.union_store(include_ontology=True))
    st.extend(ox.Quad(to_ox(s), to_ox(p), to_ox(o)) for s, p, o in prov.data | prov.schema)
    return st


def closure_results(path: str, config):
    """The shapes' results graph over the closure held in an N-Triples file (closure_store's
    default graph, dumped), in a new process beside the freeze
    (chainkg.build.forked.Spawned). The file is parsed, not bulk-loaded: the findings' blank nodes
    (quantities) keep their labels, so that they can be matched with the first validation's."""
    import pyoxigraph as ox

    store = ox.Store()
    store.bulk_extend(ox.parse(path=path, format=ox.RdfFormat.N_TRIPLES))
    return results_on_store(store, config)


def results_on_store(store, config):
    from chainkg.build.validate import load_shapes

    shapes = load_shapes(config)
    try:
        from chainkg.build.fastshacl import validate_store

        results = validate_store(store, shapes)
    except Exception:  # noqa: BLE001 - shapes the bulk engine cannot run: pySHACL, the reference
        from rdflib import Graph

        from chainkg.build.terms import to_rdflib
        from chainkg.build.validate import validate_graph

        g = Graph()
        for q in store:
            g.add((to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object)))
        results = validate_graph(g, shapes)
    return results


def closure_findings(results, inputs, report) -> list:
    """The shapes over asserted + inferred (issue #15; `results`: closure_results'): the findings
    that reasoning brought and the asserted data alone did not have (`report`, the validate step's),
    as warnings whose message starts with "after reasoning:", each with the file and line of what
    it is about. A shape written for what claims state can disagree with what the ontology implies
    (S14 says what is ck:presentIn a place is an organisation or a project; ck:locatedIn, a
    subproperty of ck:presentIn, makes districts present in their city): the build names each such
    finding instead of failing on it."""
    from dataclasses import replace

    from chainkg.build.validate import findings_from

    def key(f):
        return f.severity, f.focus, f.path, f.value, f.shape

    seen = {key(f) for f in report.findings}
    out = []
    for f in findings_from(results, inputs):
        if key(f) in seen:
            continue
        messages = {lang: f"after reasoning: {m}" for lang, m in f.messages.items()}
        out.append(replace(f, messages=messages))
    return out


def import_inferences(store, graph: str, triples: list):
    """Quads for an import's own inferences (reasoned once with our ontology and cached with the
    import, chainkg.integrate): what the frozen store already holds is skipped, what is about an
    ontology term goes to graph/inferred-schema, the rest to graph/inferred, and one ck:Derivation
    (prov:wasDerivedFrom the import's graph, ck:derivedCount) describes them together."""
    import pyoxigraph as ox

    from chainkg.build.load import DERIVATIONS_GRAPH, INFERRED_GRAPH, INFERRED_SCHEMA_GRAPH, ONTOLOGY_GRAPH

    ontology = ox.NamedNode(ONTOLOGY_GRAPH)
    data_g, schema_g = ox.NamedNode(INFERRED_GRAPH), ox.NamedNode(INFERRED_SCHEMA_GRAPH)
    terms: dict = {}
    n = 0
    for s, p, o in triples:
        if next(iter(store.quads_for_pattern(s, p, o, None)), None) is not None:
            continue
        is_term = terms.get(s)
        if is_term is None:
            is_term = terms[s] = next(iter(store.quads_for_pattern(s, None, None, ontology)), None) is not None \
                or p.value in SCHEMA_PREDICATES
        if is_term or p.value in SCHEMA_PREDICATES:
            yield ox.Quad(s, p, o, schema_g)
        else:
            n += 1
            yield ox.Quad(s, p, o, data_g)
    if n:
        d = ox.NamedNode(DERIVATION_NS + "imports-" + hashlib.sha1(graph.encode()).hexdigest()[:12])
        g = ox.NamedNode(DERIVATIONS_GRAPH)
        yield ox.Quad(d, ox.NamedNode(RDF + "type"), ox.NamedNode(CK + "Derivation"), g)
        yield ox.Quad(d, ox.NamedNode(CK + "derivedCount"), ox.Literal(str(n), datatype=ox.NamedNode(
            "http://www.w3.org/2001/XMLSchema#integer")), g)
        yield ox.Quad(d, ox.NamedNode(PROV + "wasDerivedFrom"), ox.NamedNode(graph), g)
