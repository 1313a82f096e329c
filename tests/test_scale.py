"""The build at scale (issue #11): the fast paths give what the reference paths give.

- the Oxigraph SHACL engine (chainkg.build.fastshacl) and pySHACL report the same findings on
  every shape fixture, on the real graph, and on the real graph with every invalid fixture in it;
- the loader (Oxigraph parsing) gives the graphs rdflib's parser gives;
- reasoning from the Oxigraph store gives what reasoning from the rdflib graph gives;
- scripts/generate_graph.py writes a project that builds, and refuses an impossible size.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Dataset, Graph, URIRef
from rdflib.compare import to_isomorphic

from chainkg.build.fastshacl import Shapes, Unsupported, validate_store
from chainkg.build.load import is_derived_graph, load
from chainkg.build.reason import reason
from chainkg.build.terms import to_ox
from chainkg.build.validate import findings_from, load_shapes, validate, validate_graph
from chainkg.config import Config
from conftest import FIXTURES, ROOT

FIXTURE_DIR = FIXTURES / "shapes"
FIXTURE_FILES = sorted(p.name for p in FIXTURE_DIR.glob("*.ttl"))


@pytest.fixture(scope="module")
def shapes() -> Graph:
    return load_shapes(Config(root=ROOT))


@pytest.fixture(scope="module")
def ontology() -> Graph:
    g = Graph()
    for f in sorted((ROOT / "ontology").glob("*.ttl")):
        g.parse(f, format="turtle")
    return g


@pytest.fixture(scope="module")
def inputs():
    return load(Config(root=ROOT))


def _key(f) -> tuple:
    """A finding as both engines must give it (blank focus nodes by kind only: their labels are the data's)."""
    focus = "_:" if f.focus.startswith("_:") else f.focus
    return (f.severity, focus, f.path, f.value, str(f.source_shape), tuple(sorted(f.messages.items())))


def _store_of(graph: Graph) -> ox.Store:
    store = ox.Store()
    store.extend(ox.Quad(to_ox(s), to_ox(p), to_ox(o)) for s, p, o in graph)
    return store


def both(graph: Graph, shapes: Graph) -> tuple[Counter, Counter]:
    reference = Counter(_key(f) for f in findings_from(validate_graph(graph, shapes)))
    fast = Counter(_key(f) for f in findings_from(validate_store(_store_of(graph), shapes)))
    return reference, fast


def _diff(reference: Counter, fast: Counter) -> str:
    return f"pySHACL only: {list((reference - fast).elements())[:5]}\nfast only: {list((fast - reference).elements())[:5]}"


@pytest.mark.parametrize("name", FIXTURE_FILES)
def test_fast_validator_matches_pyshacl_on_fixture(name, shapes, ontology):
    data = Graph()
    for t in ontology:
        data.add(t)
    data.parse(FIXTURE_DIR / name, format="turtle")
    reference, fast = both(data, shapes)
    assert reference == fast, _diff(reference, fast)
    if name.endswith(".invalid.ttl"):
        assert sum(fast.values()) > 0  # the comparison is not between two empty reports


def test_fast_validator_matches_pyshacl_on_real_graph(inputs, shapes):
    reference, fast = both(inputs.union(include_ontology=True), shapes)
    assert reference == fast, _diff(reference, fast)
    assert sum(fast.values()) > 20  # the real graph has warnings to agree on


def test_fast_validator_matches_pyshacl_on_real_graph_with_every_invalid_fixture(inputs, shapes):
    data = inputs.union(include_ontology=True)
    for name in FIXTURE_FILES:
        if name.endswith(".invalid.ttl"):
            data.parse(FIXTURE_DIR / name, format="turtle")
    reference, fast = both(data, shapes)
    assert reference == fast, _diff(reference, fast)
    assert sum(1 for k in fast if k[0] == "Violation") > 20


def test_validate_uses_either_engine_with_the_same_report(inputs, shapes, monkeypatch):
    config = Config(root=ROOT)
    monkeypatch.setenv("CHAINKG_VALIDATOR", "pyshacl")
    reference = Counter(_key(f) for f in validate(inputs, config, shapes=shapes).findings)
    monkeypatch.setenv("CHAINKG_VALIDATOR", "oxigraph")
    fast_report = validate(inputs, config, shapes=shapes)
    assert Counter(_key(f) for f in fast_report.findings) == reference
    # the findings still name their claim graph, file and line
    located = [f for f in fast_report.findings if f.files and f.line]
    assert located and all(Path(f.files[0]).exists() for f in located)
    monkeypatch.setenv("CHAINKG_VALIDATOR", "hermit")
    with pytest.raises(ValueError, match="unknown validator"):
        validate(inputs, config)


def test_a_shape_feature_the_fast_engine_lacks_falls_back_to_pyshacl(inputs, shapes, tmp_path):
    extra = """@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix ck: <https://w3id.org/chainkg/ontology#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<https://w3id.org/chainkg/shapes#X01> a sh:NodeShape ; sh:targetClass ck:Enterprise ;
  sh:property [ sh:path rdfs:label ; sh:pattern "^Q" ; sh:severity sh:Warning ; sh:message "starts with Q"@en ] .
"""
    more = Graph()
    for t in shapes:
        more.add(t)
    more.parse(data=extra, format="turtle")
    with pytest.raises(Unsupported, match="pattern"):
        Shapes(more)
    report = validate(inputs, Config(root=ROOT), shapes=more)
    assert any(f.message() == "starts with Q" for f in report.warnings)  # pySHACL evaluated sh:pattern


def test_loader_gives_the_graphs_rdflib_parses(inputs):
    expected = Dataset()
    for path in sorted((ROOT / "triples").glob("*.trig")):
        expected.parse(path, format="trig")
    loaded = Graph()
    for name, g in inputs.graphs.items():
        if str(name).startswith("https://w3id.org/chainkg/claim/"):
            for t in g:
                loaded.add(t)
    reference = Graph()
    for g in expected.graphs():
        if str(g.identifier).startswith("https://w3id.org/chainkg/claim/"):
            for t in g:
                reference.add(t)
    assert len(loaded) == len(reference) > 3000
    assert to_isomorphic(loaded) == to_isomorphic(reference)
    assert sum(len(g) for g in inputs.graphs.values()) == inputs.count()
    claim = inputs.claim_graphs()[0]
    assert inputs.graphs_with_subject(next(iter(inputs.graphs[URIRef(claim)].subjects())))


def test_reasoning_from_the_store_equals_reasoning_from_rdflib(inputs):
    from_store = reason(inputs.union_store(include_ontology=True), "reasonable")
    from_graph = reason(inputs.union(include_ontology=True), "reasonable")
    assert len(from_store) > 3000

    def frozen(triples) -> set:  # as the frozen store holds them (numbers in canonical form)
        store = ox.Store()
        store.extend(ox.Quad(to_ox(s), to_ox(p), to_ox(o)) for s, p, o in triples)
        return {str(q) for q in store}

    assert frozen(from_store) == frozen(from_graph)


def _generate(n: str, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "generate_graph.py"), n, str(out)],
                          capture_output=True, text=True, timeout=300)


def _template():
    """The generator's view of the real graph (its fixed part and the triples of one replica)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("generate_graph", ROOT / "scripts" / "generate_graph.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Template(ROOT)


@pytest.mark.parametrize("n", ["5000", "20000000", "0"])
def test_generator_refuses_an_impossible_size(n, tmp_path):
    run = _generate(n, tmp_path / "g")
    assert run.returncode == 2
    assert "outside the supported range" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "g").exists()


def test_generated_graph_builds_valid_with_every_claim_replicated(tmp_path):
    from chainkg.build.pipeline import build

    template = _template()
    # two replicas, whatever the size of the real graph (it grows with every claim added)
    run = _generate(str(template.fixed + 2 * template.per_replica), tmp_path / "g")
    assert run.returncode == 0, run.stderr
    asserted = int(run.stdout.split(" asserted")[0].replace(",", ""))
    result = build(Config(root=tmp_path / "g", build_dir=tmp_path / "b"))
    stats = result.dataset.meta["stats"]
    real = load(Config(root=ROOT))
    assert stats["claim_graphs"] == 2 * len(real.claim_graphs())
    derived = sum(result.dataset.count(g) for g in result.dataset.graph_names() if is_derived_graph(g))
    assert stats["derivation_graphs"] > 0 and stats["derivation_graph_triples"] > 0
    assert stats["quads"] - derived == asserted
    # replica 1 is the real graph under new IRIs and labels, with the real quotes
    labels = {r["l"] for r in result.dataset.select(
        'SELECT ?l WHERE { <https://w3id.org/chainkg/id/xinxin-chip-r1> <http://www.w3.org/2000/01/rdf-schema#label> ?l }')}
    assert labels and all(label.endswith(" #1") for label in labels)
    quotes = result.dataset.select(
        "SELECT DISTINCT ?q WHERE { ?c a <https://w3id.org/chainkg/ontology#Claim> ; "
        "<https://w3id.org/chainkg/ontology#evidence> ?q }")
    assert len(quotes) == len(real.union().query(
        "SELECT DISTINCT ?q WHERE { ?c <https://w3id.org/chainkg/ontology#evidence> ?q }"))
    assert not result.warnings or all(w.severity == "Warning" for w in result.warnings)
