"""Incremental reasoning (issue #11): the closure after an edit, updated from the previous closure by
chainkg.build.incremental, equals the closure the reasoner computes over everything again.

The edits are the real data's: a whole triples file taken out (its claim graphs and their
descriptions) or put back, for every file of triples/, so the update runs through every rule the
ontology uses on real claims (background geography takes the transitive located-in hierarchy with it).
"""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest

from chainkg.build.incremental import NotIncremental, Rules, StoreFacts, graph_triples, update
from chainkg.build.load import INFERRED_GRAPH, INFERRED_SCHEMA_GRAPH, ONTOLOGY_GRAPH, PROVENANCE_GRAPH, load
from chainkg.build.reason import InconsistencyError, clean, closure_of
from chainkg.build.terms import to_ox

INFERRED = (INFERRED_GRAPH, INFERRED_SCHEMA_GRAPH)


class State:
    """Asserted named graphs, reasoned over whole: the stores a build keeps (the asserted union in the
    default graph of `asserted`, the named graphs and graph/inferred in `store`) and the inferred set."""

    def __init__(self, named: dict):
        self.named = named
        self.asserted = ox.Store()
        for quads in named.values():
            self.asserted.extend(quads)
            self.asserted.extend(ox.Quad(q.subject, q.predicate, q.object) for q in quads)
        self.closure, asserted = closure_of(self.asserted, "reasonable")
        self.inferred_rdflib = clean(self.closure, asserted)
        self.inferred = {tuple(to_ox(x) for x in t) for t in self.inferred_rdflib}
        self.store = ox.Store()
        for quads in named.values():
            self.store.extend(quads)
        self.store.extend(ox.Quad(*t, ox.NamedNode(INFERRED_GRAPH)) for t in self.inferred)

    def triples(self) -> set:
        return {(q.subject, q.predicate, q.object) for q in self.asserted.quads_for_pattern(None, None, None, ox.DefaultGraph())}

    def facts(self) -> StoreFacts:
        return StoreFacts(self.asserted, self.store, INFERRED)

    def inputs(self):
        """The asserted graphs as the build's Inputs."""
        from chainkg.build.load import Inputs

        inputs = Inputs()
        inputs.quads = self.named
        return inputs

    def provenance(self):
        """provenance.trace_inputs over everything (rdflib terms)."""
        from chainkg.build.provenance import trace_inputs

        prov = trace_inputs(self.inputs(), self.closure, self.inferred_rdflib)
        assert not prov.untraced
        return prov

    def trace(self) -> dict:
        """provenance.trace over everything: {triple: (rule, axiom, premises, rests)} in Oxigraph terms."""
        prov = self.provenance()

        def conv(t):
            return tuple(to_ox(x) for x in t)

        return {conv(t): (rule, to_ox(axiom), tuple(conv(p) for p in premises), rests)
                for t, (rule, axiom, premises, rests) in prov.derivations.items()}

    def stated(self) -> dict:
        """{asserted triple: the graphs stating it}, read back from the store (which writes numbers canonically)."""
        out: dict = {}
        for q in self.store.quads_for_pattern(None, None, None, None):
            if not isinstance(q.graph_name, ox.DefaultGraph) and q.graph_name.value != INFERRED_GRAPH:
                out.setdefault((q.subject, q.predicate, q.object), set()).add(q.graph_name.value)
        return out

    def rules(self) -> Rules:
        return Rules(graph_triples(self.store, ONTOLOGY_GRAPH), graph_triples(self.store, INFERRED_GRAPH))


@pytest.fixture(scope="module")
def inputs(config):
    return load(config)


@pytest.fixture(scope="module")
def whole(inputs):
    return State(dict(inputs.quads))


def without(inputs, file: Path) -> dict:
    """The asserted graphs without the claim graphs of `file` and their descriptions."""
    from rdflib import URIRef

    gone = {name for name in inputs.quads if file in inputs.origin.get(URIRef(name), []) and name != PROVENANCE_GRAPH}
    nodes = {ox.NamedNode(g) for g in gone}
    named = {name: quads for name, quads in inputs.quads.items() if name not in gone}
    named[PROVENANCE_GRAPH] = [q for q in named[PROVENANCE_GRAPH] if q.subject not in nodes]
    assert len(named) < len(inputs.quads)
    return named


def updated(before: State, after: State) -> set:
    old, new = before.triples(), after.triples()
    result = update(before.rules(), before.facts(), old - new, new - old)
    assert not result.gone & result.new
    assert result.gone <= before.inferred
    assert not result.new & before.inferred
    return (before.inferred - result.gone) | result.new


def triples_files(config) -> list:
    return sorted(config.triples_dir.glob("*.trig"))


def test_every_triples_file_is_edited(config):
    """The parametrisation below covers the real files (five articles and the background)."""
    assert [f.name for f in triples_files(config)] == [
        f"{n}.trig" for n in ("000_ic_chain_netease", "001_ic_chain_zhengjieju", "002_parks_plan_2022",
                             "003_parks_listed_2024", "004_ten_plus_one_2025", "background")]


@pytest.mark.parametrize("name", ["000_ic_chain_netease", "001_ic_chain_zhengjieju", "002_parks_plan_2022",
                                  "003_parks_listed_2024", "004_ten_plus_one_2025", "background"])
def test_update_equals_reasoning_again(config, inputs, whole, name):
    """A file taken out, then put back: both updates equal the reasoner's closure of the result."""
    part = State(without(inputs, config.triples_dir / f"{name}.trig"))
    assert part.inferred != whole.inferred  # the edit changes the closure: the comparison can fail
    out = updated(whole, part)
    assert out == part.inferred, (sorted(map(str, out - part.inferred))[:5], sorted(map(str, part.inferred - out))[:5])
    back = updated(part, whole)
    assert back == whole.inferred, (sorted(map(str, back - whole.inferred))[:5],
                                    sorted(map(str, whole.inferred - back))[:5])


def test_a_triple_still_derived_stays(whole):
    """DRed's re-derivation: taking out one of two edges that both conclude a triple over-deletes the
    triple, then derives it again from the other; the result equals reasoning again."""
    located = ox.NamedNode("https://w3id.org/chainkg/ontology#locatedIn")
    by_subject: dict = {}
    for q in whole.asserted.quads_for_pattern(None, located, None, ox.DefaultGraph()):
        by_subject.setdefault(q.subject, []).append((q.subject, q.predicate, q.object))
    s, edges = min(((s, e) for s, e in by_subject.items() if len(e) >= 2), key=lambda kv: kv[0].value)
    edge = min(edges, key=lambda t: t[2].value)
    named = {g: [q for q in quads if (q.subject, q.predicate, q.object) != edge] for g, quads in whole.named.items()}
    after = State(named)
    result = update(whole.rules(), whole.facts(), {edge}, set())
    assert result.overdeleted > len(result.gone) and result.rederived >= 1
    assert (whole.inferred - result.gone) | result.new == after.inferred


def test_a_schema_triple_is_not_followed(whole):
    sub = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#subClassOf")
    t = (ox.NamedNode("https://w3id.org/chainkg/id/x"), sub, ox.NamedNode("https://w3id.org/chainkg/ontology#Park"))
    with pytest.raises(NotIncremental, match="schema"):
        update(whole.rules(), whole.facts(), set(), {t})


def test_a_contradiction_is_found(whole):
    """Added data that makes a node a member of two disjoint classes stops the update, as it stops
    the reasoner."""
    rules = whole.rules()
    assert rules.disjoint
    c1, c2 = rules.disjoint[0]
    rdf_type = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    node = ox.NamedNode("https://w3id.org/chainkg/id/test-node")
    with pytest.raises(InconsistencyError, match="disjoint"):
        update(rules, whole.facts(), set(), {(node, rdf_type, c1), (node, rdf_type, c2)})


SMALL_ONTOLOGY = """
@prefix ex: <https://example.org/> . @prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ex:p a owl:ObjectProperty , owl:TransitiveProperty .
ex:q a owl:ObjectProperty .
ex:F a owl:Class .
ex:R a owl:Restriction ; owl:onProperty ex:q ; owl:someValuesFrom ex:F ; rdfs:subClassOf ex:Leader .
ex:Leader a owl:Class .
"""


@pytest.mark.parametrize("before, after", [
    ("ex:a ex:p ex:b . ex:x ex:q ex:y .", "ex:a ex:p ex:b . ex:b ex:p ex:c . ex:x ex:q ex:y . ex:y a ex:F ."),
    ("ex:b ex:p ex:c . ex:y a ex:F .", "ex:a ex:p ex:b . ex:b ex:p ex:c . ex:x ex:q ex:y . ex:y a ex:F ."),
])
def test_joins_either_way(before, after):
    """A transitive property without an inverse and a someValuesFrom restriction, on a small ontology:
    the new triple joins an old one on its left (a p b, then b p c) and an old edge gets the filler's
    type (x q y, then y a F); and each edit undone."""
    prefix = "@prefix ex: <https://example.org/> .\n"

    def state(data: str) -> State:
        onto = ox.NamedNode(ONTOLOGY_GRAPH)
        g = ox.NamedNode("https://example.org/g")
        return State({ONTOLOGY_GRAPH: [ox.Quad(t.subject, t.predicate, t.object, onto)
                                       for t in ox.parse(SMALL_ONTOLOGY, format=ox.RdfFormat.TURTLE)],
                      g.value: [ox.Quad(t.subject, t.predicate, t.object, g)
                                for t in ox.parse(prefix + data, format=ox.RdfFormat.TURTLE)]})

    old, new = state(before), state(after)
    assert old.inferred != new.inferred
    assert updated(old, new) == new.inferred
    assert updated(new, old) == old.inferred
    assert_retraced(old, new)
    assert_retraced(new, old)


@pytest.mark.parametrize("name", ["background"])
def test_provenance_settled_again_equals_tracing_again(config, inputs, whole, name):
    """The derivations of the triples an edit reaches, settled again by incremental.retrace, equal
    provenance.trace over everything (rule, axiom, premises, graphs rested on); every other
    triple keeps its derivation. Both ways: the file taken out, and put back."""
    part = State(without(inputs, config.triples_dir / f"{name}.trig"))
    for before, after in ((whole, part), (part, whole)):
        assert_retraced(before, after)


def assert_retraced(before: State, after: State) -> None:
    from chainkg.build.incremental import Known, affected, retrace

    old_prov, new_prov = before.trace(), after.trace()
    old_stated, new_stated = before.stated(), after.stated()
    old, new = set(old_stated), set(new_stated)
    rules = before.rules()
    result = update(rules, before.facts(), old - new, new - old)
    inferred = (before.inferred - result.gone) | result.new
    assert inferred == after.inferred
    changed = {t for t in old | new if old_stated.get(t) != new_stated.get(t)}
    seeds = changed | (result.deleted & inferred) | result.new
    todo = affected(rules, result.facts, seeds, inferred.__contains__)

    def recorded(t):
        why = old_prov.get(t)
        return None if why is None else (why[0], why[1], why[3])

    known = Known(rules, result.facts, lambda t: frozenset(new_stated.get(t, ())), recorded)
    settled = retrace(known, todo)
    assert len(todo) < max(len(inferred) / 2, 10)  # the edit reaches a part, not everything
    for t, why in new_prov.items():
        got = settled[t] if t in settled else old_prov.get(t)
        assert canonical(got) == canonical(why), (t, got, why)


def canonical(why):
    """A derivation with its premises' numbers by value: the inputs keep "200000.0"^^xsd:decimal as
    written, the store (what the update reads) as "200000"."""
    from decimal import Decimal

    def term(x):
        if isinstance(x, ox.Literal) and x.datatype.value.startswith("http://www.w3.org/2001/XMLSchema#") \
                and x.datatype.value.rsplit("#", 1)[1] in ("decimal", "integer", "double", "float"):
            return ("number", Decimal(x.value))
        return x

    rule, axiom, premises, rests = why
    return rule, axiom, tuple(tuple(term(x) for x in t) for t in premises), rests


def test_the_store_gives_back_each_derivation(inputs, whole):
    """StoreDerivations reads back from a frozen store what provenance recorded: each traced data
    triple's group (rule, axiom, graphs rested on), the key retrace orders known premises by."""
    from chainkg.build.incremental import StoreDerivations
    from chainkg.build.provenance import group_key

    prov = whole.provenance()
    store = frozen(whole, prov)
    derivations = StoreDerivations(store)
    checked = 0
    for t, why in prov.derivations.items():
        key = group_key(why)
        got = derivations.key(tuple(to_ox(x) for x in t))
        if key[0] is None:  # resting on imports alone: described, not kept in a graph
            assert got is None
            continue
        assert got == (key[0], to_ox(key[1]), key[2])
        checked += 1
    assert checked > 1000
    assert derivations.key((ox.NamedNode("https://example.org/s"), ox.NamedNode("https://example.org/p"),
                            ox.NamedNode("https://example.org/o"))) is None


def test_a_build_records_what_it_was_made_of(config, kg):
    """meta.json's "inputs": every input file with its digest and, for files of triples/, the named
    graphs it gave: what an incremental rebuild compares the next inputs with."""
    import blake3

    from chainkg.build.load import input_files

    manifest = kg.meta["inputs"]
    from chainkg.build.load import BUILD_FORMAT

    assert manifest["setup"] == f"chainkg=={__import__('chainkg').__version__};build={BUILD_FORMAT};reasoner={config.reasoner}"
    assert set(manifest["dependencies"]) >= {"rdflib", "pyoxigraph", "reasonable"}
    files = manifest["files"]
    assert list(files) == [str(f.relative_to(config.root)) for f in input_files(config)]
    for name, entry in files.items():
        assert entry["blake3"] == blake3.blake3((config.root / name).read_bytes()).hexdigest(), name
    claims = {g for g in kg.graph_names() if g.startswith("https://w3id.org/chainkg/claim/")}
    listed = [g for name, e in files.items() if name.endswith(".trig") for g in e.get("graphs", ())]
    assert {g for g in listed if g.startswith("https://w3id.org/chainkg/claim/")} == claims
    assert len([g for g in listed if g in claims]) == len(claims)  # each claim graph in one file
    netease = files[str((config.triples_dir / "000_ic_chain_netease.trig").relative_to(config.root))]
    assert "https://w3id.org/chainkg/graph/provenance" in netease["graphs"]
    assert not any("graphs" in e for name, e in files.items() if "shapes" in name)


WAS_DERIVED_FROM = ox.NamedNode("http://www.w3.org/ns/prov#wasDerivedFrom")


def stats_of(named: ox.Store) -> dict:
    from chainkg.build.dataset import FrozenDataset, compute_stats

    return compute_stats(FrozenDataset(store=named, version="test"))


def stated_by(stated: dict):
    return lambda t: frozenset(stated.get(t, ()))


def frozen(state: State, prov=None):
    """The store a build freezes for `state`: asserted graphs, graph/inferred, graph/inferred-schema,
    the derivation groups' graphs and their descriptions (pipeline._freeze)."""
    from chainkg.build.pipeline import _freeze

    return _freeze(state.inputs(), prov or state.provenance(), "test", {}).store


def derived_quads(store) -> set:
    from chainkg.build.load import is_derived_graph

    return {q for q in store.quads_for_pattern(None, None, None, None)
            if isinstance(q.graph_name, ox.NamedNode) and is_derived_graph(q.graph_name.value)}


def edited(before: State, after: State) -> tuple:
    """The frozen stores of both states, and derived_changes from the first to the second."""
    from chainkg.build.incremental import StoreDerivations, derived_changes

    old_named, new_named = frozen(before), frozen(after)
    old_stated, new_stated = before.stated(), after.stated()
    old, new = set(old_stated), set(new_stated)
    changed = {t for t in old | new if old_stated.get(t) != new_stated.get(t)}
    out = derived_changes(before.rules(), StoreFacts(before.asserted, old_named, INFERRED), StoreDerivations(old_named),
                          old - new, new - old, changed, stated_by(new_stated))
    return old_named, new_named, out


@pytest.mark.parametrize("name", ["000_ic_chain_netease", "001_ic_chain_zhengjieju", "002_parks_plan_2022",
                                  "003_parks_listed_2024", "004_ten_plus_one_2025", "background"])
def test_derived_graphs_after_an_edit_equal_a_full_build(config, inputs, whole, name):
    """derived_changes turns the previous build's derived graphs (inferred, inferred-schema, every
    derivation group's graph and description) into exactly those a full build of the edited inputs
    freezes, quad for quad: a file taken out, and put back."""
    part = State(without(inputs, config.triples_dir / f"{name}.trig"))
    for before, after in ((whole, part), (part, whole)):
        old_store, new_store, out = edited(before, after)
        expected = derived_quads(new_store)
        got = (derived_quads(old_store) - out.remove) | out.add
        assert out.remove and out.add and out.groups_described
        assert got == expected, (sorted(map(str, got - expected))[:6], sorted(map(str, expected - got))[:6])


@pytest.mark.parametrize("name", ["002_parks_plan_2022", "background"])
def test_patched_stores_equal_a_full_build(config, inputs, whole, name, tmp_path):
    """The previous build's two stores (every graph, and the asserted ones; each with the distinct
    union as default graph), patched with the asserted graphs' changes and derived_changes', equal a
    full build's, named quads and default graph alike; patch counts what it changed."""
    from chainkg.build.dataset import _union_in_memory
    from chainkg.build.incremental import patch, rewrite_nquads, updated_stats
    from chainkg.build.load import CLAIM_NS, is_derived_graph

    def asserted_quads(store) -> set:
        return {q for q in store.quads_for_pattern(None, None, None, None)
                if isinstance(q.graph_name, ox.NamedNode) and not is_derived_graph(q.graph_name.value)}

    def quads(store) -> set:
        return set(store.quads_for_pattern(None, None, None, None))

    part = State(without(inputs, config.triples_dir / f"{name}.trig"))
    for before, after in ((whole, part), (part, whole)):
        old_named, new_named, out = edited(before, after)
        gone, came = asserted_quads(old_named) - asserted_quads(new_named), asserted_quads(new_named) - asserted_quads(old_named)
        for asserted_only in (False, True):
            store, expected = (_union_in_memory(s, asserted_only=asserted_only) for s in (old_named, new_named))
            size = (len(quads(store)) - len(list(store.quads_for_pattern(None, None, None, ox.DefaultGraph()))),
                    len(list(store.quads_for_pattern(None, None, None, ox.DefaultGraph()))))
            remove, add = (gone, came) if asserted_only else (gone | out.remove, came | out.add)
            patched = patch(store, remove, add)
            assert quads(store) == quads(expected)
            new_size = (len(quads(expected)) - len(list(expected.quads_for_pattern(None, None, None, ox.DefaultGraph()))),
                        len(list(expected.quads_for_pattern(None, None, None, ox.DefaultGraph()))))
            assert (size[0] + patched.named, size[1] + patched.union) == new_size
            if not asserted_only:  # the statistics follow: compute_stats of the patched store, without recounting
                claims = {q.graph_name.value for q in remove | add if q.graph_name.value.startswith(CLAIM_NS)}
                sources = {q.object.value for q in old_named.quads_for_pattern(None, WAS_DERIVED_FROM, None, None)
                           if q.subject.value in claims} | {
                    q.object.value for q in new_named.quads_for_pattern(None, WAS_DERIVED_FROM, None, None)
                    if q.subject.value in claims}
                stats = updated_stats(stats_of(old_named), patched, store, sources)
                assert stats == stats_of(new_named)
                assert patched.begun if after is whole else patched.emptied
                # dataset.nq: the previous build's, rewritten, holds the full build's quads
                old_nq, new_nq, full_nq = (tmp_path / f"{n}.nq" for n in ("old", "new", "full"))
                old_named.dump(str(old_nq), ox.RdfFormat.N_QUADS)
                new_named.dump(str(full_nq), ox.RdfFormat.N_QUADS)
                before_quads = quads(old_named)
                n = rewrite_nquads(old_nq, new_nq, remove & before_quads, add - before_quads)
                lines = new_nq.read_bytes().splitlines()
                assert n == len(lines) == len(set(lines)) and set(lines) == set(full_nq.read_bytes().splitlines())


# -- reading an edit ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the repository's project, built (its build records its inputs)."""
    import shutil

    from chainkg.build.pipeline import build
    from chainkg.config import Config

    root = tmp_path_factory.mktemp("edit") / "project"
    here = Path(__file__).resolve().parents[1]
    for d in ("ontology", "triples", "shapes", "imports", "queries"):
        if (here / d).exists():
            shutil.copytree(here / d, root / d)
    cfg = Config(root=root, build_dir=root / "build")
    return cfg, build(cfg).dataset


def named(triples) -> set:
    """The triples (or quads) without a blank node."""
    return {t for t in triples if not any(isinstance(x, ox.BlankNode) for x in tuple(t)[:3])}


def canonical_triples(inputs) -> set:
    store = ox.Store()
    for quads in inputs.quads.values():
        store.extend(ox.Quad(q.subject, q.predicate, q.object) for q in quads)
    return {(q.subject, q.predicate, q.object) for q in store}


def test_an_edited_file_is_read_alone(project):
    """Taking a claim out of one file: edited_files names that file alone, asserted_changes reads it
    and finds the quads that go, and the triples no longer asserted are those a full load of the
    edited project no longer has."""
    from chainkg.build.incremental import asserted_changes, edited_files

    cfg, ds = project
    manifest = ds.meta["inputs"]
    assert edited_files(cfg, manifest) == []
    path = cfg.triples_dir / "002_parks_plan_2022.trig"
    rel = str(path.relative_to(cfg.root))
    original = path.read_bytes()
    before = canonical_triples(load(cfg))
    quads = list(ox.parse(path=str(path), format=ox.RdfFormat.TRIG))
    drop = max(q.graph_name.value for q in quads if isinstance(q.graph_name, ox.NamedNode))
    node = ox.NamedNode(drop)
    kept = [q for q in quads if q.graph_name != node and q.subject != node]
    try:
        path.write_bytes(ox.serialize(kept, format=ox.RdfFormat.TRIG))
        assert edited_files(cfg, manifest) == [rel]
        changes = asserted_changes(cfg, manifest, [rel], StoreFacts(ds.asserted_store, ds.store, INFERRED))
        after = canonical_triples(load(cfg))
        # blank nodes are new at every read: the file's are taken out and put back, as in a full build
        assert named(changes.removed) == named(before - after) and named(changes.removed)
        assert named(changes.added) == named(after - before) == set()
        assert {q.graph_name.value for q in named(changes.gone)} == {drop, PROVENANCE_GRAPH}
        assert not named(changes.came)  # the rest of the file is read again and is the same
        some = next(iter(changes.removed))
        assert changes.stated(some) == frozenset()
    finally:
        path.write_bytes(original)
    assert edited_files(cfg, manifest) == []


def test_an_edit_that_takes_another_files_graph_is_refused(project):
    """A file giving a claim graph another (unchanged) file gives stops the read, as the full load does."""
    from chainkg.build.incremental import asserted_changes, edited_files
    from chainkg.build.load import LoadError

    cfg, ds = project
    manifest = ds.meta["inputs"]
    copy = cfg.triples_dir / "005_copy.trig"
    copy.write_bytes((cfg.triples_dir / "003_parks_listed_2024.trig").read_bytes())
    try:
        rel = str(copy.relative_to(cfg.root))
        assert edited_files(cfg, manifest) == [rel]
        with pytest.raises(LoadError, match="also defined in .*003_parks_listed_2024"):
            asserted_changes(cfg, manifest, [rel], StoreFacts(ds.asserted_store, ds.store, INFERRED))
        with pytest.raises(LoadError, match="also defined in"):
            load(cfg)
    finally:
        copy.unlink()


@pytest.mark.parametrize("what", ["ontology/chainkg.ttl", "shapes/core.ttl", "triples/sources.ttl",
                                  "triples/background.trig"])
def test_other_changes_are_not_followed(project, what):
    from chainkg.build.incremental import edited_files

    cfg, ds = project
    path = cfg.root / what
    original = path.read_bytes()
    try:
        path.write_bytes(original + b"\n# edited\n")
        with pytest.raises(NotIncremental, match="changed|background"):
            edited_files(cfg, ds.meta["inputs"])
    finally:
        path.write_bytes(original)


def test_the_claim_checks_of_an_edited_file_read_it_alone(config):
    """The figures against their wording (pipeline.check_figures) and the tense of actual figures
    (W10, build/tense.py) need only the claims they check: run on each file read alone
    (load_files), they find what they find over the whole project, file by file. (The real data has
    neither disagreements nor W10 warnings: the figures counted are what compares here.)"""
    from chainkg.build import tense
    from chainkg.build.load import load_files
    from chainkg.build.pipeline import check_figures

    everything = load(config)
    total, disagreements = check_figures(everything)
    warnings = tense.check(everything)
    counted, found, warned = 0, [], []
    for path in triples_files(config):
        alone = load_files(config, [path], {})
        n, d = check_figures(alone)
        counted += n
        found += d
        warned += tense.check(alone)
    assert total > 100 and counted == total
    assert sorted(map(repr, found)) == sorted(map(repr, disagreements))
    assert sorted(map(repr, warned)) == sorted(map(repr, warnings))
