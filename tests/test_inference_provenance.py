"""Inference provenance (issue #15 item 1): every inferred statement names the claims it rests on.

The build writes graph/inferred (data only), graph/inferred-schema (inferences about classes and
properties) and graph/derivations (one ck:Derivation per inferred data triple: rdf:subject,
rdf:predicate, rdf:object, ck:rule, ck:axiom, prov:wasDerivedFrom the claims). These tests read the
real build, the saved query derivation-of, an entity page over HTTP, and trace() on small cases.
"""

from __future__ import annotations

import re
import urllib.request

import pytest
from rdflib import Literal, URIRef

from chainkg.build.provenance import trace
from conftest import MINI_TRIG, PREFIXES, make_project

ID = "https://w3id.org/chainkg/id/"
CLAIM = "https://w3id.org/chainkg/claim/"
CK = "https://w3id.org/chainkg/ontology#"
G = "https://w3id.org/chainkg/graph/"
PREFIX = f"""PREFIX ck: <{CK}> PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
"""


def test_boe_present_in_etdz_rests_on_two_claims_of_003(saved):
    """The issue's example: id:boe ck:presentIn id:qingdao-etdz, inferred, traced to the two claims of
    article 003 it rests on (BOE is a tenant of the display park; the park lies in the ETDZ), with
    their article and verbatim evidence."""
    rows = [r for r in saved("derivation-of", subject=ID + "boe")
            if r["predicate"] == CK + "presentIn" and r["object"] == ID + "qingdao-etdz"]
    assert rows, "no derivation for id:boe ck:presentIn id:qingdao-etdz"
    claims = {r["premise"] for r in rows}
    assert claims == {CLAIM + "003-display-park-leaders", CLAIM + "003-locations"}, claims
    assert {r["rule"] for r in rows} == {"prp-spo1"} and {r["axiom"] for r in rows} == {CK + "locatedIn"}
    assert {r["source"].rsplit("/", 1)[-1][:3] for r in rows} == {"003"}
    quotes = {r["evidence"] for r in rows if r.get("evidence")}
    assert any("京东方" in q for q in quotes), quotes  # BOE among the display park's leaders
    assert all(any(r.get("evidence") for r in rows if r["premise"] == c) for c in claims)  # each with its quote


def test_every_inferred_data_triple_has_a_derivation(kg):
    """Each triple of graph/inferred (but an import's own inferences, added with the import) has a
    derivation record, and each record rests on at least one graph of the dataset."""
    missing = kg.select(PREFIX + f"""SELECT (COUNT(*) AS ?n) WHERE {{
        GRAPH <{G}inferred> {{ ?s ?p ?o }}
        FILTER (!STRSTARTS(STR(?s), "https://w3id.org/chainkg/ext/"))
        FILTER NOT EXISTS {{ GRAPH <{G}derivations> {{ ?d rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o }} }} }}""")
    assert missing[0]["n"] == "0", f"{missing[0]['n']} inferred triples have no derivation"
    traced = kg.select(PREFIX + f"""SELECT (COUNT(DISTINCT ?d) AS ?n) WHERE {{
        GRAPH <{G}derivations> {{ ?d a ck:Derivation ; rdf:subject ?s }} }}""")
    assert int(traced[0]["n"]) > 1000
    graphs = set(kg.graph_names())
    rests = kg.select(PREFIX + f"""SELECT DISTINCT ?g WHERE {{ GRAPH <{G}derivations> {{ ?d prov:wasDerivedFrom ?g }} }}""")
    assert rests and all(r["g"] in graphs for r in rests), [r["g"] for r in rests if r["g"] not in graphs][:5]
    imports = kg.select(PREFIX + f"""SELECT ?d ?n ?g WHERE {{ GRAPH <{G}derivations> {{
        ?d ck:derivedCount ?n ; prov:wasDerivedFrom ?g }} }}""")  # an import's inferences: one record
    assert all(r["g"].startswith(G + "ext/") and int(r["n"]) > 0 for r in imports), imports
    unsupported = kg.select(PREFIX + f"""SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{G}derivations> {{
        ?d a ck:Derivation FILTER NOT EXISTS {{ ?d prov:wasDerivedFrom ?g }} }} }}""")
    assert unsupported[0]["n"] == "0"


def test_premises_are_derivations_that_exist(kg):
    """ck:premise links a derivation to the derivation of each inferred premise; none dangles."""
    dangling = kg.select(PREFIX + f"""SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{G}derivations> {{
        ?d ck:premise ?p FILTER NOT EXISTS {{ ?p a ck:Derivation }} }} }}""")
    assert dangling[0]["n"] == "0"
    chains = kg.select(PREFIX + f"""SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{G}derivations> {{ ?d ck:premise ?p }} }}""")
    assert int(chains[0]["n"]) > 0


def test_schema_inferences_are_kept_out_of_the_data_graph(kg):
    """Subclass closures and what the reasoner says about restriction nodes go to
    graph/inferred-schema; graph/inferred holds statements about things only."""
    schema = kg.select(PREFIX + f"""SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{G}inferred> {{
        ?s ?p ?o VALUES ?p {{ rdfs:subClassOf rdfs:subPropertyOf rdfs:domain rdfs:range }} }} }}""")
    assert schema[0]["n"] == "0"
    about_terms = kg.select(PREFIX + f"""SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{G}inferred> {{ ?s ?p ?o }}
        GRAPH <{G}ontology> {{ ?s ?q ?x }} }}""")
    assert about_terms[0]["n"] == "0"
    moved = kg.select(PREFIX + f"""SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{G}inferred-schema> {{ ?s rdfs:subClassOf ?o }} }}""")
    assert int(moved[0]["n"]) > 0
    restriction_bnodes = kg.select(PREFIX + f"""SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{G}inferred> {{ ?s ?p ?o }}
        FILTER (isBlank(?s) || isBlank(?o)) GRAPH <{G}ontology> {{ ?r ?q ?x }} FILTER (?r = ?s || ?r = ?o) }}""")
    assert restriction_bnodes[0]["n"] == "0"


def test_derived_graphs_are_not_asserted(kg):
    """asserted_only queries see neither inferred graph nor the derivation records."""
    rows = kg.select(PREFIX + "SELECT (COUNT(*) AS ?n) WHERE { ?d a ck:Derivation }", asserted_only=True)
    assert rows[0]["n"] == "0"
    rows = kg.select(PREFIX + "SELECT (COUNT(*) AS ?n) WHERE { ?d a ck:Derivation }")
    assert int(rows[0]["n"]) > 0
    names = {g.value for g in kg.asserted_graphs()}
    assert not names & {G + "inferred", G + "inferred-schema", G + "derivations"}


def test_entity_page_shows_the_claims_behind_inferred_statements(live_server):
    """On /id/boe every inferred statement carries a 'because' mark; the one for ck:presentIn
    id:qingdao-etdz links to footnotes that are the two claims of 003 with their evidence."""
    request = urllib.request.Request(live_server.url + "/id/boe?lang=en", headers={"Accept": "text/html"})
    with urllib.request.urlopen(request, timeout=30) as r:
        html = r.read().decode()
    inferred_items = re.findall(r'<li class="inferred".*?</li>', html, re.S)
    assert inferred_items, "no inferred statement on the page"
    assert all('class="because"' in li for li in inferred_items), [li for li in inferred_items if "because" not in li][:2]
    present = re.search(r'<tr><th>present in</th><td>(.*?)</td></tr>', html, re.S)  # among the alignments
    assert present, "no ck:presentIn row"
    etdz = re.search(r'href="/id/qingdao-etdz".*?</a>(<span class="because".*?</span></span>)', present.group(1), re.S)
    assert etdz, present.group(1)
    refs = set(re.findall(r'class="ref because-ref" href="#claim-(\d+)"', etdz.group(1)))
    assert len(refs) == 2 and "prp-spo1" in etdz.group(1), etdz.group(1)
    for n in refs:
        note = re.search(rf'<li id="claim-{n}".*?</li>', html, re.S).group(0)
        assert "003-display-park-leaders" in note or "003-locations" in note, note
    assert "京东方" in html  # the evidence quote of 003-display-park-leaders is on the page


# -- trace() on small graphs ---------------------------------------------------------------

def u(x: str) -> URIRef:
    return URIRef(x if ":" in x and x.startswith("http") else (CK + x if x[0].isupper() or x in PROPS else ID + x))


PROPS = {"locatedIn", "contains", "presentIn", "operates", "tenantOf", "partOf"}
RDF_TYPE = URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
SUB_PROP = URIRef("http://www.w3.org/2000/01/rdf-schema#subPropertyOf")
INVERSE = URIRef("http://www.w3.org/2002/07/owl#inverseOf")
TRANSITIVE = URIRef("http://www.w3.org/2002/07/owl#TransitiveProperty")


def _schema():
    return {(u("tenantOf"), SUB_PROP, u("locatedIn")), (u("locatedIn"), SUB_PROP, u("presentIn")),
            (u("locatedIn"), INVERSE, u("contains")), (u("locatedIn"), RDF_TYPE, TRANSITIVE)}


def test_trace_picks_the_derivation_on_fewest_claims():
    """maker tenantOf park (claim A), park locatedIn district (claim B), maker locatedIn district
    (claim C, stated directly): maker presentIn district rests on C alone, not on A and B."""
    a, b, c = CLAIM + "a", CLAIM + "b", CLAIM + "c"
    asserted = {(u("maker"), u("tenantOf"), u("park")): [a], (u("park"), u("locatedIn"), u("district")): [b],
                (u("maker"), u("locatedIn"), u("district")): [c]}
    inferred = {(u("maker"), u("locatedIn"), u("park")), (u("maker"), u("presentIn"), u("park")),
                (u("park"), u("presentIn"), u("district")), (u("maker"), u("presentIn"), u("district")),
                (u("park"), u("contains"), u("maker")), (u("district"), u("contains"), u("park")),
                (u("district"), u("contains"), u("maker"))}
    closure = set(asserted) | inferred | _schema()
    ontology = {s for s, _p, _o in _schema()}
    prov = trace(closure, {**asserted, **{t: ["graph/ontology"] for t in _schema()}}, inferred, ontology)
    assert not prov.untraced and prov.data == inferred and not prov.schema
    rule, axiom, premises, rests = prov.derivations[(u("maker"), u("presentIn"), u("district"))]
    assert (rule, axiom, set(rests)) == ("prp-spo1", u("locatedIn"), {c})
    rule, axiom, premises, rests = prov.derivations[(u("maker"), u("presentIn"), u("park"))]
    assert rule == "prp-spo1" and set(rests) == {a}
    assert prov.derivations[(u("park"), u("contains"), u("maker"))][0] == "prp-inv"
    records = {(str(s), str(p)) for s, p, _o in prov.records}
    assert any(p.endswith("#premise") for _s, p in records)  # maker presentIn park rests on an inferred premise


def test_trace_follows_a_chain_across_claims_and_reports_the_untraceable():
    """A property chain (prp-spo2) joins two claims; a triple no rule reaches is reported untraced."""
    chain_head, chain_rest = URIRef(ID + "_l1"), URIRef(ID + "_l2")
    first, rest = URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#first"), URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#rest")
    nil = URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#nil")
    schema = {(u("presentIn"), URIRef("http://www.w3.org/2002/07/owl#propertyChainAxiom"), chain_head),
              (chain_head, first, u("operates")), (chain_head, rest, chain_rest),
              (chain_rest, first, u("locatedIn")), (chain_rest, rest, nil)}
    a, b = CLAIM + "a", CLAIM + "b"
    asserted = {(u("maker"), u("operates"), u("plant")): [a], (u("plant"), u("locatedIn"), u("city")): [b]}
    stray = (u("maker"), u("presentIn"), Literal("nowhere"))
    inferred = {(u("maker"), u("presentIn"), u("city")), stray}
    prov = trace(set(asserted) | inferred | schema, asserted, inferred, {s for s, _p, _o in schema})
    rule, axiom, premises, rests = prov.derivations[(u("maker"), u("presentIn"), u("city"))]
    assert (rule, axiom, set(rests), len(premises)) == ("prp-spo2", u("presentIn"), {a, b}, 2)
    assert prov.untraced == [stray]


PARK_TRIG = PREFIXES + """
claim:900-park {
    id:test-park a ck:IndustrialPark ;
        rdfs:label "测试产业园"@zh , "Test Park"@en ; skos:prefLabel "测试产业园"@zh ;
        ck:locatedIn id:laoshan-district .
}
claim:900-park a ck:Claim ; prov:wasDerivedFrom src:900_test ; ck:evidence "测试产业园位于崂山区"@zh .
"""


def test_shapes_run_on_the_closure(tmp_path):
    """Validation after reasoning: a shape that only inferred triples can violate (what is
    ck:presentIn a place must be an organisation; the test park lies in Laoshan, and ck:locatedIn
    is a subproperty of ck:presentIn) is reported as an 'after reasoning' finding, with its claim."""
    from chainkg.build.pipeline import build
    from chainkg.config import Config

    root = make_project(tmp_path / "p", PARK_TRIG)
    (root / "shapes" / "zz-after-reasoning.ttl").write_text("""
@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ck: <https://w3id.org/chainkg/ontology#> .
<https://w3id.org/chainkg/shapes#T-PresentShape> a sh:NodeShape ; sh:targetObjectsOf ck:presentIn ;
    sh:property [ sh:path [ sh:inversePath ck:presentIn ] ; sh:class ck:Organization ;
        sh:message "test: only an organisation is present in a place"@en , "测试"@zh ] .
""", encoding="utf-8")
    result = build(Config(root=root, build_dir=root / "build"), force=True)
    found = [w for w in result.warnings if "only an organisation is present" in w.message()]
    assert found, [w.format() for w in result.warnings][:5]
    assert all(w.message().startswith("after reasoning: ") for w in found)
    assert any(w.focus.endswith("/laoshan-district>") and (w.value or "").endswith("/test-park>") for w in found), \
        [w.format() for w in found]
    assert all(w.graphs for w in found)  # each finding names the graph(s) stating its focus node
    assert result.timings["validate_closure"] > 0 and result.timings["trace"] > 0


@pytest.mark.parametrize("engine", ["reasonable", "owlrl"])
def test_mini_build_traces_everything(tmp_path, engine):
    """The small project: every inferred data triple traced, none untraced."""
    from chainkg.build.load import load
    from chainkg.build.provenance import trace_inputs
    from chainkg.build.reason import clean, closure_of
    from chainkg.config import Config

    root = make_project(tmp_path / "p", MINI_TRIG)
    inputs = load(Config(root=root, build_dir=root / "build"))
    closure, asserted = closure_of(inputs.union_store(include_ontology=True), engine)
    prov = trace_inputs(inputs, closure, clean(closure, asserted))
    assert prov.data and not prov.untraced
    assert set(prov.derivations) == prov.data
    maker_in_park = (URIRef(ID + "test-maker"), URIRef(CK + "locatedIn"), URIRef(ID + "test-park"))
    assert set(prov.derivations[maker_in_park][3]) == {CLAIM + "900-supply"}


def test_asserted_dump_leaves_out_every_derived_graph(kg):
    """`chainkg export --graphs asserted` holds no inferred, inferred-schema or derivation quad;
    `--graphs inferred` is graph/inferred, as before."""
    from chainkg.build.export import selected_quads

    derived = {G + "inferred", G + "inferred-schema", G + "derivations"}
    assert not any(q.graph_name.value in derived for q in selected_quads(kg, "asserted"))
    assert {q.graph_name.value for q in selected_quads(kg, "inferred")} == {G + "inferred"}
    everything = {q.graph_name.value for q in selected_quads(kg, "all")}
    assert derived <= everything


def test_no_blank_nodes_in_graph_inferred_and_partial_dumps_skolemise_theirs(kg):
    """graph/inferred holds no blank node (restriction nodes went to graph/inferred-schema; figures
    are IRIs). A partial dump names the data blank nodes it has (rankings, link axioms) by
    /.well-known/genid/ IRIs, the same in every partial dump of the version, so parts downloaded
    apart still join; the ontology's restrictions and lists stay blank."""
    import pyoxigraph as ox

    from chainkg.build.export import GENID, selected_quads

    blank = kg.select(f"""SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{G}inferred> {{ ?s ?p ?o
        FILTER (isBlank(?s) || isBlank(?o)) }} }}""")
    assert blank[0]["n"] == "0"
    inferred = list(selected_quads(kg, "inferred"))
    assert inferred and not any(isinstance(t, ox.BlankNode) for q in inferred for t in (q.subject, q.object))

    def genids():
        return {t.value for q in selected_quads(kg, "asserted") if not q.graph_name.value.endswith("/ontology")
                for t in (q.subject, q.object) if isinstance(t, ox.NamedNode) and t.value.startswith(GENID)}

    first = genids()
    assert first and first == genids()
    data_blank = [q for q in selected_quads(kg, "asserted") if not q.graph_name.value.endswith("/ontology")
                  and isinstance(q.subject, ox.BlankNode)]
    assert not data_blank, data_blank[:3]
    assert any(q.graph_name.value == G + "ontology" and isinstance(q.subject, ox.BlankNode)
               for q in selected_quads(kg, "asserted"))  # OWL restrictions and lists stay blank
