"""Incremental reasoning: the closure of edited inputs from the previous build's, without reasoning
over everything again (issue #11, "a rebuild after editing one article file re-reasons only what can
change").

The ontology (the T-box) is fixed between the two builds: only asserted data changes, as when an
article file is edited. The rules are the OWL 2 RL data rules the ontology uses, the ones
chainkg.build.provenance traces (cax-sco, prp-dom, prp-rng, prp-spo1, prp-inv, prp-symp,
prp-trp, prp-spo2, cls-svf1/2, cls-hv1/2), read from the previous build's ontology and
inferred-schema graphs. The update is DRed (delete and re-derive; Gupta, Mumick and Subrahmanian,
SIGMOD 1993):

1. over-delete: every inferred triple some derivation of which uses a triple no longer asserted,
   found forward from the removed triples through the old facts;
2. re-derive: of those, and of the removed asserted triples, each one that a rule still
   concludes in one step from what is left;
3. insert: forward from the added triples and the re-derived ones, semi-naively, until nothing new.

Every lookup goes to the previous build's stores (Oxigraph, on disk) through an overlay of the
changes (`Facts`): the work grows with what the edit reaches, not with the graph. A change this
module cannot follow (a triple about the schema, a rule it does not know) is refused with
`NotIncremental`, and the caller reasons over everything.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pyoxigraph as ox

from chainkg.build.load import (
    BACKGROUND_GRAPH,
    CLAIM_NS,
    DERIVATION_NS,
    DERIVATIONS_GRAPH,
    INFERRED_GRAPH,
    INFERRED_SCHEMA_GRAPH,
    ONTOLOGY_GRAPH,
    PROVENANCE_GRAPH,
    dependencies,
    input_files,
    is_derivation_group,
    is_derived_graph,
    load_files,
    setup,
)
from chainkg.build.provenance import (
    CK,
    OWL,
    PROV,
    RDF,
    SCHEMA_CLASSES,
    SCHEMA_PREDICATES,
    Group,
    Tie,
    _Schema,
    description_quads,
    group_key,
    imports_only,
)
from chainkg.build.provenance import group_iri as _group_iri
from chainkg.build.reason import AXIOMATIC_NAMESPACES, REFLEXIVE_NOISE, TRIVIAL_TYPES, InconsistencyError
from chainkg.build.terms import to_ox, to_rdflib
from chainkg.config import BASE_IRI

TYPE = ox.NamedNode(RDF + "type")
DISJOINT_WITH = ox.NamedNode(OWL + "disjointWith")
THING = ox.NamedNode(OWL + "Thing")
NOTHING = ox.NamedNode(OWL + "Nothing")
_NOISE = {ox.NamedNode(i) for i in REFLEXIVE_NOISE}
_TRIVIAL = {ox.NamedNode(i) for i in TRIVIAL_TYPES}
_SCHEMA_PREDICATES = {ox.NamedNode(i) for i in SCHEMA_PREDICATES}
_SCHEMA_CLASSES = {ox.NamedNode(i) for i in SCHEMA_CLASSES}
# constructs whose rules chainkg.build.provenance does not apply (equality, keys, cardinality, lists of
# classes): an ontology using them is reasoned over whole
_UNFOLLOWED = {ox.NamedNode(OWL + t) for t in (
    "sameAs", "hasKey", "FunctionalProperty", "InverseFunctionalProperty", "maxCardinality",
    "maxQualifiedCardinality", "intersectionOf", "unionOf", "oneOf", "allValuesFrom", "complementOf",
    "propertyDisjointWith", "AllDisjointClasses", "IrreflexiveProperty", "AsymmetricProperty")}


class NotIncremental(Exception):
    """The change cannot be followed incrementally (the message says why): reason over everything."""


def _is_noise(t) -> bool:
    """What chainkg.build.reason.clean drops from a closure (besides asserted triples)."""
    s, p, o = t
    if isinstance(s, ox.Literal):
        return True
    if isinstance(s, ox.NamedNode) and s.value.startswith(AXIOMATIC_NAMESPACES):
        return True
    if p in _NOISE and s == o:
        return True
    return p == TYPE and o in _TRIVIAL


class Rules:
    """The data rules of the ontology, indexed both ways: `forward` (what a triple concludes with the
    facts) and `derivable` (whether a rule concludes a triple from the facts in one step)."""

    def __init__(self, ontology, inferred=()):
        """`ontology`: Oxigraph triples of the ontology graph; `inferred`: the previous build's
        inferences about it (graph/inferred-schema: the schema's own closure)."""
        ontology = list(ontology)
        triples = ontology + list(inferred)
        used = {t[1] for t in triples} | {t[2] for t in triples if t[1] == TYPE}
        unfollowed = sorted(u.value for u in used & _UNFOLLOWED)
        if unfollowed:
            raise NotIncremental(f"the ontology uses {', '.join(unfollowed)}")
        sch = _Schema([tuple(to_rdflib(x) for x in t) for t in triples])

        def m(d):
            return {to_ox(k): {to_ox(v) for v in vs} for k, vs in d.items()}

        self.supers, self.super_props = m(sch.supers), m(sch.super_props)
        self.domain, self.range, self.inverse = m(sch.domain), m(sch.range), m(sch.inverse)
        self.symmetric = {to_ox(p) for p in sch.symmetric}
        self.transitive = {to_ox(p) for p in sch.transitive}
        self.on = {to_ox(k): to_ox(v) for k, v in sch.on.items()}
        self.svf_by_prop = {to_ox(p): [(to_ox(r), to_ox(f)) for r, f in v] for p, v in sch.svf_by_prop.items()}
        self.svf_by_class = {to_ox(c): [(to_ox(r), to_ox(p)) for r, p in v] for c, v in sch.svf_by_class.items()}
        self.hv_by_class = {to_ox(r): (to_ox(p), to_ox(v)) for r, (p, v) in sch.hv_by_class.items()}
        self.hv_by_edge = {(to_ox(p), to_ox(v)): [to_ox(r) for r in rs] for (p, v), rs in sch.hv_by_edge.items()}
        self.chains = [(to_ox(p), [to_ox(s) for s in steps]) for p, steps in sch.chains]
        self.chain_steps = defaultdict(list)
        for i, (_prop, steps) in enumerate(self.chains):
            for k, step in enumerate(steps):
                self.chain_steps[step].append((i, k))
        self.chains_of = defaultdict(list)
        for prop, steps in self.chains:
            self.chains_of[prop].append(steps)
        # the other way round, for `derivable`
        self.subs, self.sub_props = _inverse(self.supers), _inverse(self.super_props)
        self.domain_of, self.range_of = _inverse(self.domain), _inverse(self.range)
        self.svf_of = {}  # restriction -> (property, filler)
        for p, pairs in self.svf_by_prop.items():
            for r, filler in pairs:
                self.svf_of[r] = (p, filler)
        self.disjoint = [(s, o) for s, p, o in triples if p == DISJOINT_WITH]
        # what makes a triple part of the schema (provenance.is_schema_triple): never changed here
        self.schema_nodes = {t[0] for t in ontology} | {to_ox(n) for n in sch.nodes}

    def touches_schema(self, t) -> bool:
        """A triple that would change the rules themselves (a T-box statement)."""
        s, p, o = t
        return p in _SCHEMA_PREDICATES or (p == TYPE and o in _SCHEMA_CLASSES)

    def is_schema_triple(self, t) -> bool:
        """provenance.is_schema_triple, in Oxigraph terms (graph/inferred-schema or graph/inferred)."""
        s, p, o = t
        if s in self.schema_nodes or p in _SCHEMA_PREDICATES:
            return True
        return p == TYPE and (o in _SCHEMA_CLASSES or (isinstance(o, ox.BlankNode) and o in self.schema_nodes))

    def forward(self, t, facts):
        """Every conclusion of a rule instance with `t` as one premise and the others in `facts`."""
        s, p, o = t
        if p == TYPE:
            for c in self.supers.get(o, ()):
                yield (s, TYPE, c)
            for r, prop in self.svf_by_class.get(o, ()):
                for x in facts.subjects(prop, s):
                    yield (x, TYPE, r)
            hv = self.hv_by_class.get(o)
            if hv:
                yield (s, hv[0], hv[1])
            return
        for c in self.domain.get(p, ()):
            yield (s, TYPE, c)
        for q in self.super_props.get(p, ()):
            yield (s, q, o)
        for r in self.hv_by_edge.get((p, o), ()):
            yield (s, TYPE, r)
        for r, filler in self.svf_by_prop.get(p, ()):
            if filler == THING or facts.has((o, TYPE, filler)):
                yield (s, TYPE, r)
        if isinstance(o, ox.Literal):
            return
        for c in self.range.get(p, ()):
            yield (o, TYPE, c)
        for q in self.inverse.get(p, ()):
            yield (o, q, s)
        if p in self.symmetric:
            yield (o, p, s)
        if p in self.transitive:
            for y in facts.objects(o, p):
                yield (s, p, y)
            for x in facts.subjects(p, s):
                yield (x, p, o)
        for i, k in self.chain_steps.get(p, ()):
            prop, steps = self.chains[i]
            for start, end in _ends(steps, k, t, facts):
                yield (start, prop, end)

    def derivable(self, t, facts) -> bool:
        """Whether some rule concludes `t` in one step from `facts` (the first of `derivations`)."""
        return next(derivations(self, t, facts), None) is not None


def _inverse(d: dict) -> dict:
    out = defaultdict(set)
    for k, vs in d.items():
        for v in vs:
            out[v].add(k)
    return out


def _ends(steps, k, t, facts):
    """(start, end) of every path p1 .. pn through the facts with `t` as step k (prp-spo2)."""
    starts = {t[0]}
    for step in reversed(steps[:k]):
        starts = {x for node in starts for x in facts.subjects(step, node)}
    ends = {t[2]}
    for step in steps[k + 1:]:
        ends = {y for node in ends for y in facts.objects(node, step)}
    return [(a, b) for a in starts for b in ends]


class Facts:
    """The facts (asserted and inferred triples) of a state: `base` (lookups on the previous build)
    with `removed` taken out and `added` put in. `base` answers has/objects/subjects."""

    def __init__(self, base, removed: set | None = None):
        self.base = base
        self.removed = removed if removed is not None else set()
        self.added: set = set()
        self._so = defaultdict(set)  # (s, p) -> {o} of the added triples
        self._os = defaultdict(set)  # (p, o) -> {s}

    def add(self, t) -> None:
        self.added.add(t)
        self.removed.discard(t)
        self._so[(t[0], t[1])].add(t[2])
        self._os[(t[1], t[2])].add(t[0])

    def has(self, t) -> bool:
        return t in self.added or (t not in self.removed and self.base.has(t))

    def objects(self, s, p):
        return self._merged(self._so.get((s, p), ()), self.base.objects(s, p), lambda o: (s, p, o))

    def subjects(self, p, o):
        return self._merged(self._os.get((p, o), ()), self.base.subjects(p, o), lambda s: (s, p, o))

    def _merged(self, added, base, triple):
        """The added nodes, then the base's that are neither among them nor in a removed triple."""
        seen = set(added)
        yield from seen
        for x in base:
            if x not in seen and triple(x) not in self.removed:
                yield x


class StoreFacts:
    """The previous build's facts, looked up in its stores: the asserted union (the default graph of
    the asserted store) and the inferred graphs of the full store."""

    def __init__(self, asserted: ox.Store, store, inferred_graphs):
        self.asserted, self.store = asserted, store
        self.graphs = [ox.NamedNode(g) for g in inferred_graphs]
        self.dg = ox.DefaultGraph()

    def _quads(self, s, p, o):
        yield from self.asserted.quads_for_pattern(s, p, o, self.dg)
        for g in self.graphs:
            yield from self.store.quads_for_pattern(s, p, o, g)

    def has(self, t) -> bool:
        return next(iter(self._quads(*t)), None) is not None

    def is_asserted(self, t) -> bool:
        return next(iter(self.asserted.quads_for_pattern(*t, self.dg)), None) is not None

    def graphs_stating(self, t) -> frozenset:
        """The asserted graphs stating t (empty when it is not asserted)."""
        if not self.is_asserted(t):
            return frozenset()
        return frozenset(q.graph_name.value for q in self.store.quads_for_pattern(*t, None)
                         if isinstance(q.graph_name, ox.NamedNode) and not is_derived_graph(q.graph_name.value))

    def is_inferred(self, t) -> bool:
        return any(next(iter(self.store.quads_for_pattern(*t, g)), None) is not None for g in self.graphs)

    def objects(self, s, p):
        return (q.object for q in self._quads(s, p, None))

    def subjects(self, p, o):
        return (q.subject for q in self._quads(None, p, o))


class Update:
    """What an edit changes in the closure: inferred triples that go and that come, and the
    asserted triples that changed (each a set of Oxigraph triples)."""

    def __init__(self):
        self.gone: set = set()  # no longer inferred (including triples now asserted)
        self.new: set = set()  # newly inferred (including triples no longer asserted but still derived)
        self.rederived = 0
        self.deleted: set = set()  # over-deleted: every inferred triple a derivation through a removed one reached
        self.facts: Facts | None = None  # the facts after the edit (an overlay on the previous build)

    @property
    def overdeleted(self) -> int:
        return len(self.deleted)

    def __repr__(self) -> str:
        return f"Update(-{len(self.gone)} +{len(self.new)}, over-deleted {self.overdeleted}, re-derived {self.rederived})"


def update(rules: Rules, old: StoreFacts, removed: set, added: set) -> Update:
    """The inferred triples that change when the asserted triples `removed` are no longer asserted
    anywhere and `added` now are (neither set holds a triple both before and after)."""
    for t in removed | added:
        if rules.touches_schema(t):
            raise NotIncremental(f"a changed triple states schema: {' '.join(str(x) for x in t)}")
    out = Update()
    old_facts = Facts(old)
    # 1. over-delete: what some derivation through a removed triple concluded
    deleted: set = set()
    frontier = list(removed)
    while frontier:
        t = frontier.pop()
        for c in rules.forward(t, old_facts):
            if c not in deleted and c not in added and not _is_noise(c) and old.is_inferred(c):
                deleted.add(c)
                frontier.append(c)
    out.deleted = deleted
    # 2. re-derive, in one step from what is left: an over-deleted triple, or a triple no longer asserted
    facts = Facts(old, removed | deleted)
    for t in added:
        facts.add(t)
    rederived = {t for t in deleted | removed if not _is_noise(t) and rules.derivable(t, facts)}
    out.rederived = len(rederived)
    # 3. insert, semi-naively, from the added and re-derived triples
    inserted: set = set()
    for t in rederived:
        facts.add(t)
    frontier = list(added | rederived)
    while frontier:
        t = frontier.pop()
        for c in rules.forward(t, facts):
            if not _is_noise(c) and not facts.has(c):
                facts.add(c)
                inserted.add(c)
                frontier.append(c)
    derived = rederived | inserted
    out.gone = {t for t in deleted if t not in derived} | {t for t in added if old.is_inferred(t)}
    out.new = {t for t in derived if not old.is_inferred(t)}  # an over-deleted triple derived again is no change
    _check_consistency(rules, facts, {t[0] for t in out.new | added})
    out.facts = facts
    return out


def _check_consistency(rules: Rules, facts: Facts, nodes) -> None:
    """reason._check_consistency for the nodes whose types may have changed."""
    problems = []
    for node in nodes:
        if facts.has((node, TYPE, NOTHING)):
            problems.append(f"{node} is a member of owl:Nothing")
        for c1, c2 in rules.disjoint:
            if facts.has((node, TYPE, c1)) and facts.has((node, TYPE, c2)):
                problems.append(f"{node} is both {c1} and {c2}, declared disjoint")
    if problems:
        raise InconsistencyError("; ".join(sorted(set(problems))[:10]))


def graph_triples(store, graph: str) -> list:
    """The triples of one named graph of `store` (the ontology, graph/inferred-schema: Rules' arguments)."""
    return [(q.subject, q.predicate, q.object) for q in store.quads_for_pattern(None, None, None, ox.NamedNode(graph))]


# -- provenance: the derivations of what an edit reaches, settled again ---------------------------------


def _text(x) -> str:
    return x.value


def derivations(rules: Rules, t, facts):
    """Every rule instance concluding `t` from `facts`, one at a time, as (rule, axiom, premises) the
    way chainkg.build.provenance.trace names and orders them (never `t` among its own premises)."""
    return (d for d in _instances(rules, t, facts) if t not in d[2])


def _instances(rules: Rules, t, facts):
    s, p, o = t
    if p == TYPE:
        for d in rules.subs.get(o, ()):
            if facts.has((s, TYPE, d)):
                yield "cax-sco", rules.on.get(d, d), ((s, TYPE, d),)
        for q in rules.domain_of.get(o, ()):
            yield from (("prp-dom", q, ((s, q, y),)) for y in facts.objects(s, q))
        for q in rules.range_of.get(o, ()):
            yield from (("prp-rng", q, ((x, q, s),)) for x in facts.subjects(q, s))
        svf = rules.svf_of.get(o)
        if svf is not None:
            prop, filler = svf
            for y in facts.objects(s, prop):
                if filler == THING:
                    yield "cls-svf2", prop, ((s, prop, y),)
                elif facts.has((y, TYPE, filler)):
                    yield "cls-svf1", prop, ((s, prop, y), (y, TYPE, filler))
        hv = rules.hv_by_class.get(o)
        if hv is not None and facts.has((s, hv[0], hv[1])):
            yield "cls-hv2", hv[0], ((s, hv[0], hv[1]),)
        return
    for q in rules.sub_props.get(p, ()):
        if facts.has((s, q, o)):
            yield "prp-spo1", q, ((s, q, o),)
    for r, pv in rules.hv_by_class.items():
        if pv == (p, o) and facts.has((s, TYPE, r)):
            yield "cls-hv1", r, ((s, TYPE, r),)
    if not isinstance(o, ox.Literal) and not isinstance(s, ox.Literal):
        for q in rules.inverse.get(p, ()):
            if facts.has((o, q, s)):
                yield "prp-inv", q, ((o, q, s),)
        if p in rules.symmetric and facts.has((o, p, s)):
            yield "prp-symp", p, ((o, p, s),)
    if p in rules.transitive:
        yield from (("prp-trp", p, ((s, p, m), (m, p, o))) for m in _middles(facts, s, p, o))
    for steps in rules.chains_of.get(p, ()):
        yield from (("prp-spo2", p, tuple(path)) for path in _chain_paths(s, o, steps, facts))


def _middles(facts, s, p, o) -> set:
    """Every m with s p m and m p o: the side that runs out first is checked against the facts."""
    sides = [iter(facts.objects(s, p)), iter(facts.subjects(p, o))]
    seen: list = [set(), set()]
    while True:
        for i, it in enumerate(sides):
            m = next(it, None)
            if m is None:
                return {x for x in seen[i] if facts.has((x, p, o) if i == 0 else (s, p, x))}
            seen[i].add(m)


def _chain_paths(s, o, steps, facts) -> list:
    node_paths = [(s, [])]
    for k, step in enumerate(steps):
        last = k == len(steps) - 1
        node_paths = [(y, path + [(node, step, y)]) for node, path in node_paths for y in facts.objects(node, step)
                      if not last or y == o]
    return [path for node, path in node_paths if node == o]


def affected(rules: Rules, facts, seeds, inferred) -> set:
    """The inferred triples whose derivation can differ after the edit: the inferred `seeds` and
    every inferred triple a rule concludes from one of them, transitively (`inferred(t)` tells
    whether t is inferred after the edit; asserted seeds are followed, not returned)."""
    out: set = set()
    frontier = list(seeds)
    for t in frontier:
        if inferred(t):
            out.add(t)
    while frontier:
        t = frontier.pop()
        for c in rules.forward(t, facts):
            if c not in out and inferred(c):
                out.add(c)
                frontier.append(c)
    return out


def _heap_key(t, rule, axiom, rests, depth) -> tuple:
    """The part of provenance.trace's heap key that orders two triples: cost, graphs, depth, rule,
    axiom, triple (then the premises break a tie between two derivations of one triple)."""
    return (len(rests), tuple(sorted(rests)), depth, rule, _text(axiom), tuple(_text(x) for x in t))


_STATED_KEY = (0, (), 0, "", "", ())


class Known:
    """The derivations after an edit: `settled` (the triples retrace settled again: {triple:
    (rule, axiom, premises, rests_on)}, `depth`) and, for every other inferred triple, the key and
    premises provenance.trace chose, found again from the group the previous build recorded
    (`recorded(t)`: (rule, axiom, rests_on), or None) and the facts. trace's choice is the least
    of all derivations (cost, graphs, depth, rule, axiom, premises), so it can be found again one
    triple at a time."""

    def __init__(self, rules: Rules, facts, stated, recorded):
        self.rules, self.facts, self.stated, self.recorded = rules, facts, stated, recorded
        self.settled: dict = {}
        self.depth: dict = {}
        self._chosen: dict = {}  # triple -> (heap key, premises, rests)
        self._stack: set = set()

    def key(self, t):
        """(heap key, rests_on) of a triple after the edit, or None when nothing records it."""
        graphs = self.stated(t)
        if graphs:
            return _STATED_KEY, frozenset(graphs)
        why = self.settled.get(t)
        if why is not None:
            return _heap_key(t, why[0], why[1], why[3], self.depth[t]), why[3]
        chosen = self.chosen(t)
        return None if chosen is None else (chosen[0], chosen[2])

    def chosen(self, t):
        """(heap key, premises, rests_on) of trace's derivation of a recorded triple, or None."""
        if t in self._chosen:
            return self._chosen[t]
        recorded = self.recorded(t)
        if recorded is None:
            return None
        rule, axiom, rests = recorded
        best, cut = None, False
        self._stack.add(t)
        try:
            for r, a, premises in derivations(self.rules, t, self.facts):
                if r != rule or a != axiom:
                    continue
                if any(p in self._stack for p in premises):  # through itself: never trace's choice
                    cut = True
                    continue
                keys = [self.key(p) for p in premises]
                if any(k is None for k in keys) or frozenset().union(*(k[1] for k in keys)) != rests:
                    continue
                order = (1 + max(k[0][2] for k in keys), tuple(tuple(_text(x) for x in p) for p in premises))
                if best is None or order < best[0]:
                    best = (order, premises)
        finally:
            self._stack.discard(t)
        if best is None:
            raise NotIncremental(f"no derivation of {' '.join(map(str, t))} matches its recorded group")
        out = (_heap_key(t, rule, axiom, rests, best[0][0]), best[1], rests)
        if not cut:  # a choice made without the derivations through a triple on the stack may change later
            self._chosen[t] = out
        return out


def retrace(known: Known, todo: set) -> dict:
    """Settle the triples of `todo` again, as chainkg.build.provenance.trace would over everything,
    into `known.settled` ({triple: (rule, axiom, premises, rests_on)}; returned too). A premise
    outside `todo` that nothing records (an inference about the schema, or one resting on imports
    alone) is settled again with them."""
    import heapq
    from itertools import count

    rules, facts = known.rules, known.facts
    todo = set(todo)
    waiting = defaultdict(list)  # premise -> [(conclusion, derivation)]
    sources: dict = {}  # premise outside todo -> its heap entry
    tick = count()
    frontier = list(todo)
    while frontier:
        t = frontier.pop()
        for d in derivations(rules, t, facts):
            for pr in d[2]:
                waiting[pr].append((t, d))
                if pr in todo or pr in sources:
                    continue
                key = known.key(pr)
                if key is None:
                    todo.add(pr)
                    frontier.append(pr)
                    continue
                sources[pr] = (*key[0], _FIXED_TIE, next(tick), pr, (None, None, None, key[1]))
    heap = list(sources.values())
    heapq.heapify(heap)
    done: dict = {}
    while heap:
        *order, t, why = heapq.heappop(heap)
        if t in done:
            continue
        done[t] = why
        known.depth[t] = order[2]
        for c, (rule, axiom, premises) in waiting.get(t, ()):
            if c in done or not all(pr in done for pr in premises):
                continue
            rests = frozenset().union(*(done[pr][3] for pr in premises))
            depth = 1 + max(known.depth[pr] for pr in premises)
            heapq.heappush(heap, (*_heap_key(c, rule, axiom, rests, depth), Tie(premises, _text), next(tick), c,
                                  (rule, axiom, premises, rests)))
    missing = [t for t in todo if t not in done]
    if missing:
        raise NotIncremental(f"{len(missing)} inferred triples found no derivation, e.g. {' '.join(map(str, missing[0]))}")
    for t in todo:
        known.settled[t] = done[t]
    return {t: done[t] for t in todo}


class _Fixed:
    """A heap tie-break for entries pushed once (never compared past: their triples differ)."""

    def __lt__(self, other) -> bool:
        return False


_FIXED_TIE = _Fixed()


class StoreDerivations:
    """The previous build's derivations, read from its store: the group graph holding an inferred
    triple (derivation/...) and the group's description in graph/derivations (ck:rule, ck:axiom,
    prov:wasDerivedFrom). `key(t)` is retrace's `known_key`."""

    def __init__(self, store):
        self.store, self.ns = store, DERIVATION_NS
        self.graph = ox.NamedNode(DERIVATIONS_GRAPH)
        self.rule, self.axiom = ox.NamedNode(CK + "rule"), ox.NamedNode(CK + "axiom")
        self.rests = ox.NamedNode(PROV + "wasDerivedFrom")
        self._groups: dict = {}

    def group_of(self, t):
        """The IRI (ox.NamedNode) of the group graph holding `t`, or None."""
        for q in self.store.quads_for_pattern(*t, None):
            g = q.graph_name
            if isinstance(g, ox.NamedNode) and g.value.startswith(self.ns):
                return g
        return None

    def description(self, group) -> tuple:
        """(rule, axiom, rests_on) of a group."""
        d = self._groups.get(group)
        if d is None:
            rule = next(iter(self.store.quads_for_pattern(group, self.rule, None, self.graph)), None)
            axiom = next(iter(self.store.quads_for_pattern(group, self.axiom, None, self.graph)), None)
            rests = frozenset(q.object.value for q in self.store.quads_for_pattern(group, self.rests, None, self.graph))
            d = self._groups[group] = (rule.object.value if rule else None, axiom.object if axiom else None, rests)
        return d

    def key(self, t):
        group = self.group_of(t)
        return None if group is None else self.description(group)


# -- the derived graphs of the edit, as quads to remove and to add ------------------------------------


class _N3:
    """An Oxigraph term where provenance.group_iri expects an rdflib one (its n3() form)."""

    def __init__(self, term):
        self.term = term

    def n3(self) -> str:
        return str(self.term)


def group_iri(why) -> str:
    """provenance.group_iri of a derivation (rule, axiom, premises, rests) in Oxigraph terms."""
    rule, axiom, rests = group_key((why[0], _N3(why[1]) if why[1] is not None else None, None, why[3]))
    return _group_iri((rule, axiom, rests))


class Derived:
    """The changes an edit makes to the derived graphs: graph/inferred, graph/inferred-schema, the
    derivation groups' graphs and their descriptions in graph/derivations (`remove`, `add`: sets
    of Oxigraph quads), with the Update and the triples settled again."""

    def __init__(self):
        self.remove: set = set()
        self.add: set = set()
        self.update: Update | None = None
        self.settled: dict = {}
        self.groups_described = 0


def derived_changes(rules: Rules, old: StoreFacts, derivations_of: StoreDerivations, removed: set, added: set,
                    changed: set, stated) -> Derived:
    """What the derived graphs become when the asserted triples `removed` go and `added` come.
    `changed`: every asserted triple whose set of stating graphs changes (removed, added, or stated by
    other graphs than before); `stated(t)`: the graphs stating t after the edit."""
    out = Derived()
    upd = out.update = update(rules, old, removed, added)
    facts = upd.facts

    def inferred(t) -> bool:
        if t in upd.new:
            return True
        if t in upd.gone:
            return False
        return old.is_inferred(t)

    data_g, schema_g = ox.NamedNode(INFERRED_GRAPH), ox.NamedNode(INFERRED_SCHEMA_GRAPH)
    for t in upd.gone:
        out.remove.add(ox.Quad(*t, schema_g if rules.is_schema_triple(t) else data_g))
    for t in upd.new:
        out.add.add(ox.Quad(*t, schema_g if rules.is_schema_triple(t) else data_g))

    todo = affected(rules, facts, changed | (upd.deleted - upd.gone) | upd.new, inferred)
    known = Known(rules, facts, stated, derivations_of.key)
    out.settled = retrace(known, todo)
    settled = known.settled

    # each data triple that moves: out of its old group's graph, into its new one
    touched: dict = {}  # group IRI -> description (rule, axiom, rests), None when only the old one is known
    new_group: dict = {}
    for t in set(settled) | upd.gone:
        if rules.is_schema_triple(t):
            continue
        before = derivations_of.group_of(t)
        after = None
        if t in settled:
            why = settled[t]
            if why[0] is None:  # asserted: not a derivation
                continue
            if imports_only(why[3]):  # described by count alone, without a graph: not followed here
                raise NotIncremental(f"a triple resting on imports alone is reached: {' '.join(map(str, t))}")
            after = ox.NamedNode(group_iri(why))
            new_group[t] = after
            touched[after] = (why[0], why[1], why[3])
        if before is not None:
            touched.setdefault(before, None)
        if before is None and t not in upd.new and t in settled:
            raise NotIncremental(f"an inferred triple without a recorded group: {' '.join(map(str, t))}")
        if before != after:
            if before is not None:
                out.remove.add(ox.Quad(*t, before))
            if after is not None:
                out.add.add(ox.Quad(*t, after))

    def group_after(p):
        """The group of an inferred data premise after the edit (None for an asserted or schema triple)."""
        if stated(p) or rules.is_schema_triple(p):
            return None
        if p not in settled:
            group = derivations_of.group_of(p)
            if group is not None:
                return group
            retrace(known, {p})  # in no graph (resting on imports alone): settled here to learn its group
        return ox.NamedNode(group_iri(settled[p]))

    # the groups of an edited premise before the edit, for the members settled again
    before_known = Known(rules, Facts(old), old.graphs_stating, derivations_of.key)

    def contribution(m, group, after: bool) -> set | None:
        """The groups (other than `group`) of m's premises, after the edit or before it (None: not known)."""
        if after:
            why = settled.get(m)
            groups = [group_after(p) for p in (why[2] if why is not None else known.chosen(m)[1])]
        else:
            chosen = before_known.chosen(m)
            if chosen is None:
                return None
            groups = []
            for p in chosen[1]:
                if old.graphs_stating(p) or rules.is_schema_triple(p):
                    continue
                groups.append(derivations_of.group_of(p))
                if groups[-1] is None:
                    return None  # resting on imports alone: its group is kept in no graph
        return {g.value for g in groups if g is not None and g != group}

    # each touched group described again: from the members that joined, when none left and no member
    # settled again changed its premises' groups; else from all its members after the edit
    derivations_graph = derivations_of.graph
    for group, desc in touched.items():
        old_members = {(q.subject, q.predicate, q.object) for q in old.store.quads_for_pattern(None, None, None, group)}
        members = {t for t in old_members if new_group.get(t, group) == group and t not in upd.gone}
        members |= {t for t, g in new_group.items() if g == group}
        old_description = set(old.store.quads_for_pattern(group, None, None, derivations_graph))
        out.remove.update(old_description)
        if not members:
            continue
        if desc is None:
            desc = derivations_of.description(group)
        rule, axiom, rests = desc
        # what the members that left or changed contributed, against what the joined and changed ones do:
        # when nothing may have to go, the old premises plus the new contributions are the answer
        premises: set | None = {q.object.value for q in old_description if q.predicate.value == CK + "premise"}
        gone: set = set()
        came: set = set()
        for m in (old_members - members) | {m for m in members & old_members if m in settled}:
            before = contribution(m, group, False)
            if before is None:
                premises = None
                break
            gone |= before
        if premises is not None:
            for m in (members - old_members) | {m for m in members & old_members if m in settled}:
                came |= contribution(m, group, True)
            if gone - came:
                premises = None  # a premise group some other member may still give: counted again below
            else:
                premises |= came
        if premises is None:
            premises = set()
            for m in members:
                premises |= contribution(m, group, True)
        g = Group(group.value, rule, axiom, frozenset(rests), count=len(members), premises=premises)
        out.add.update(description_quads(g, None))
        out.groups_described += 1
    # a quad both removed and added is no change
    both = out.remove & out.add
    out.remove -= both
    out.add -= both
    return out


# -- the stores of the edited build ---------------------------------------------------------------------


class Patched:
    """What `patch` changed: named quads and default-graph triples (counts), each named graph's
    quads (`per_graph`), the graphs it emptied or began, and the triples that left or joined the
    default graph (the distinct union)."""

    def __init__(self):
        self.named = self.union = 0
        self.per_graph: dict = defaultdict(int)
        self.emptied: set = set()
        self.begun: set = set()
        self.left: set = set()
        self.joined: set = set()


def patch(store: ox.Store, remove, add) -> Patched:
    """Apply quad changes to a store laid out as a build keeps it (named graphs, and their distinct
    union as the default graph): named quads removed then added, each triple of the default graph
    kept while some named graph still holds it."""
    dg = ox.DefaultGraph()
    out = Patched()

    def holds(g) -> bool:
        return next(iter(store.quads_for_pattern(None, None, None, g)), None) is not None

    for q in remove:
        if next(iter(store.quads_for_pattern(q.subject, q.predicate, q.object, q.graph_name)), None) is None:
            continue
        store.remove(q)
        out.named -= 1
        out.per_graph[q.graph_name.value] -= 1
        if not any(not isinstance(o.graph_name, ox.DefaultGraph)
                   for o in store.quads_for_pattern(q.subject, q.predicate, q.object, None)):
            store.remove(ox.Quad(q.subject, q.predicate, q.object, dg))
            out.union -= 1
            out.left.add((q.subject, q.predicate, q.object))
    out.emptied = {g for g, n in out.per_graph.items() if n < 0 and not holds(ox.NamedNode(g))}
    for q in add:
        if next(iter(store.quads_for_pattern(q.subject, q.predicate, q.object, q.graph_name)), None) is not None:
            continue
        if q.graph_name.value not in out.begun and not holds(q.graph_name):
            out.begun.add(q.graph_name.value)
        store.add(q)
        out.named += 1
        out.per_graph[q.graph_name.value] += 1
        t = (q.subject, q.predicate, q.object)
        if next(iter(store.quads_for_pattern(*t, dg)), None) is None:
            store.add(ox.Quad(*t, dg))
            out.union += 1
            out.joined.add(t)
    both = out.emptied & out.begun  # emptied, then given quads again: neither
    out.emptied -= both
    out.begun -= both
    return out


def updated_stats(stats: dict, patched: Patched, store, sources: set) -> dict:
    """dataset.compute_stats of the patched store, from the previous build's and what `patch` did:
    counts moved by the deltas, the classes' members by the type triples that left or joined the
    union, the claims of `sources` (the sources of every claim the edit touched) counted again."""
    import copy

    from chainkg.build.dataset import STATS_QUERIES

    out = copy.deepcopy(stats)
    out["quads"] += patched.named
    out["distinct_triples"] += patched.union
    for g, n in patched.per_graph.items():
        if g.startswith(CLAIM_NS):
            out["claim_triples"] += n
        elif is_derivation_group(g):
            out["derivation_graph_triples"] += n
        else:
            out["graphs"][g] = out["graphs"].get(g, 0) + n
            if g in patched.emptied:
                del out["graphs"][g]
    for g in patched.begun:
        key = "claim_graphs" if g.startswith(CLAIM_NS) else "derivation_graphs" if is_derivation_group(g) else None
        if key:
            out[key] += 1
    for g in patched.emptied:
        key = "claim_graphs" if g.startswith(CLAIM_NS) else "derivation_graphs" if is_derivation_group(g) else None
        if key:
            out[key] -= 1
    out["ontology_triples"] = out["graphs"].get(ONTOLOGY_GRAPH, 0)
    out["inferred_triples"] = out["graphs"].get(INFERRED_GRAPH, 0)
    classes = out["entities_per_class"]
    for (s, p, o), sign in [(t, -1) for t in patched.left] + [(t, 1) for t in patched.joined]:
        if p == TYPE and isinstance(o, ox.NamedNode) and o.value.startswith(CK) \
                and isinstance(s, ox.NamedNode) and s.value.startswith(BASE_IRI + "id/"):
            classes[o.value] = classes.get(o.value, 0) + sign
            if not classes[o.value]:
                del classes[o.value]
    out["entities_per_class"] = dict(sorted(classes.items(), key=lambda kv: (-kv[1], kv[0])))
    per_source = out["claims_per_source"]
    for source in sources:
        per_source.pop(source, None)
    if sources:
        values = "VALUES ?source { " + " ".join(str(ox.NamedNode(x)) for x in sorted(sources)) + " } "
        text = STATS_QUERIES["claims_per_source"]
        at = text.index("WHERE {", text.index("SELECT DISTINCT")) + len("WHERE {")  # inside the sub-select:
        query = text[:at] + values + text[at:]  # the claims of these sources only, not all of them
        for row in store.query(query, default_graph=[]):
            per_source[row["source"].value] = {"claims": int(row["claims"].value), "triples": int(row["triples"].value)}
    out["claims_per_source"] = dict(sorted(per_source.items()))
    return out


def rewrite_nquads(old: Path, new: Path, remove, add) -> int:
    """dataset.nq of the edited build: the previous one's lines but the removed quads', then the
    added quads' (Oxigraph writes each quad on one line, the same way for the same quad). Returns the
    number of quads written."""
    def line(q) -> bytes:
        return ox.serialize([q], format=ox.RdfFormat.N_QUADS)

    gone = {line(q) for q in remove}
    n = 0
    with open(old, "rb") as src, open(new, "wb") as out:
        for chunk in iter(lambda: src.readlines(1 << 24), []):
            kept = [x for x in chunk if x not in gone] if gone else chunk
            out.writelines(kept)
            n += len(kept)
        for q in add:
            out.write(line(q))
            n += 1
    return n


# -- the edit: which files, what they assert now ------------------------------------------------------


def edited_files(config, manifest: dict) -> list:
    """The files of claims (triples/*.trig) added, changed or removed since the build `manifest`
    (meta.json's "inputs") describes, as paths relative to the root. NotIncremental when anything
    else differs: the ontology, the shapes, the catalogue, the imports, chainkg or a dependency, or a
    file giving graph/background."""
    import blake3

    from chainkg.integrate.imports import imports_version

    if not manifest or "files" not in manifest:
        raise NotIncremental("the previous build does not record its inputs")
    if manifest.get("setup") != setup(config) or manifest.get("dependencies") != dependencies():
        raise NotIncremental("chainkg, the reasoner or a dependency changed")
    if manifest.get("imports") != imports_version(config, ""):
        raise NotIncremental("the imports, alignments or links changed")
    now = {str(f.relative_to(config.root)): f for f in input_files(config)}
    before = manifest["files"]
    claims_dir = config.triples_dir.relative_to(config.root)
    edited = []
    for name in sorted(now.keys() | before.keys()):
        digest = blake3.blake3(now[name].read_bytes()).hexdigest() if name in now else None
        if digest == before.get(name, {}).get("blake3"):
            continue
        path = config.root / name
        if path.suffix != ".trig" or path.parent.relative_to(config.root) != claims_dir:
            raise NotIncremental(f"{name} changed")
        if BACKGROUND_GRAPH in before.get(name, {}).get("graphs", ()):
            raise NotIncremental(f"{name} gives graph/background")
        edited.append(name)
    return edited


class AssertedChanges:
    """The asserted data an edit changes, against the previous build's named store: the quads that
    go and come (`gone`, `came`, named graphs and graph/provenance), the triples no longer asserted
    anywhere (`removed`), asserted for the first time (`added`), or stated by other graphs than
    before (`changed`, which holds both), and `stated(t)`: the graphs stating any triple after it."""

    def __init__(self, old: StoreFacts, gone: set, came: set):
        self.old, self.gone, self.came = old, gone - came, came - gone
        before: dict = {}
        after: dict = {}
        for q in self.gone | self.came:
            t = (q.subject, q.predicate, q.object)
            if t not in before:
                before[t] = old.graphs_stating(t)
                after[t] = set(before[t])
        for q in self.gone:
            after[(q.subject, q.predicate, q.object)].discard(q.graph_name.value)
        for q in self.came:
            after[(q.subject, q.predicate, q.object)].add(q.graph_name.value)
        self._after = {t: frozenset(g) for t, g in after.items()}
        self.changed = {t for t in before if before[t] != self._after[t]}
        self.removed = {t for t in self.changed if not self._after[t]}
        self.added = {t for t in self.changed if not before[t]}

    def stated(self, t) -> frozenset:
        graphs = self._after.get(t)
        return graphs if graphs is not None else self.old.graphs_stating(t)


def asserted_changes(config, manifest: dict, edited: list, old: StoreFacts) -> AssertedChanges:
    """Read the edited files (`load_files`: every check of a full load) and compare what they assert
    with what the previous build got from them."""

    files = manifest["files"]
    taken = {g: name for name, entry in files.items() if name not in edited
             for g in entry.get("graphs", ()) if g != PROVENANCE_GRAPH}
    inputs = load_files(config, [config.root / name for name in edited if (config.root / name).exists()], taken)
    fresh = ox.Store()  # numbers written as the stores write them ("20.0"^^xsd:decimal is "20")
    for quads in inputs.quads.values():
        fresh.extend(quads)
    came = set(fresh.quads_for_pattern(None, None, None, None))
    prov = ox.NamedNode(PROVENANCE_GRAPH)
    gone: set = set()
    for name in edited:
        for g in files.get(name, {}).get("graphs", ()):
            if g == PROVENANCE_GRAPH:
                continue
            node = ox.NamedNode(g)
            gone.update(old.store.quads_for_pattern(None, None, None, node))
            gone.update(old.store.quads_for_pattern(node, None, None, prov))  # the claim's description
    return AssertedChanges(old, gone, came)
