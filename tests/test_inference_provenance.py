"""Inference provenance (issue #15 item 1): every inferred statement names the claims it rests on.

The build writes graph/inferred (data only), graph/inferred-schema (inferences about classes and
properties), one graph derivation/<hash> per group of inferred data triples that hold for the same
reason (rule, axiom, graphs rested on), holding the group's triples, and graph/derivations, which
describes each group (ck:Derivation: ck:rule, ck:axiom, ck:derivedCount, prov:wasDerivedFrom the
claims, ck:premise the groups of inferred premises). These tests read the real build, the saved
query derivation-of, an entity page over HTTP, and trace() on small cases.
"""

from __future__ import annotations

import re
import urllib.request

import pytest
from rdflib import Literal, URIRef

from chainkg.build.provenance import trace
from conftest import MINI_TRIG, PREFIXES, make_project

ID = "https://w3id.org/chainkg/id/"
DERIVATION = "https://w3id.org/chainkg/derivation/"
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
    """Each triple of graph/inferred (but an import's own inferences, added with the import) is in
    exactly one derivation group's graph; the groups' graphs hold nothing else; each group is
    described (rule, axiom, its true size, at least one graph of the dataset it rests on)."""
    in_group = f'FILTER (STRSTARTS(STR(?d), "{DERIVATION}"))'
    missing = kg.select(PREFIX + f"""SELECT (COUNT(*) AS ?n) WHERE {{
        GRAPH <{G}inferred> {{ ?s ?p ?o }}
        FILTER (!STRSTARTS(STR(?s), "https://w3id.org/chainkg/ext/"))
        FILTER NOT EXISTS {{ GRAPH ?d {{ ?s ?p ?o }} {in_group} }} }}""")
    assert missing[0]["n"] == "0", f"{missing[0]['n']} inferred triples have no derivation"
    inferred = int(kg.select(PREFIX + f"""SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{G}inferred> {{ ?s ?p ?o }}
        FILTER (!STRSTARTS(STR(?s), "https://w3id.org/chainkg/ext/")) }}""")[0]["n"])
    grouped = kg.select(PREFIX + f"""SELECT (COUNT(*) AS ?n) (COUNT(DISTINCT ?d) AS ?groups) WHERE {{
        GRAPH ?d {{ ?s ?p ?o }} {in_group} }}""")[0]
    assert int(grouped["n"]) == inferred  # one group each, and no other triple in a group's graph
    assert 1000 < int(grouped["groups"]) < inferred  # grouped: fewer groups than triples
    stray = kg.select(PREFIX + f"""SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?d {{ ?s ?p ?o }} {in_group}
        FILTER NOT EXISTS {{ GRAPH <{G}inferred> {{ ?s ?p ?o }} }} }}""")
    assert stray[0]["n"] == "0"
    sizes = kg.select(PREFIX + f"""SELECT ?d ?size ?n ?rule ?axiom WHERE {{
        {{ SELECT ?d (COUNT(*) AS ?size) WHERE {{ GRAPH ?d {{ ?s ?p ?o }} {in_group} }} GROUP BY ?d }}
        OPTIONAL {{ GRAPH <{G}derivations> {{ ?d a ck:Derivation ; ck:derivedCount ?n ; ck:rule ?rule ; ck:axiom ?axiom }} }}
        }}""")
    wrong = [r for r in sizes if r.get("n") != r["size"] or not r.get("rule") or not r.get("axiom")]
    assert not wrong, wrong[:3]
    graphs = set(kg.graph_names())
    rests = kg.select(PREFIX + f"""SELECT DISTINCT ?g WHERE {{ GRAPH <{G}derivations> {{ ?d prov:wasDerivedFrom ?g }} }}""")
    assert rests and all(r["g"] in graphs for r in rests), [r["g"] for r in rests if r["g"] not in graphs][:5]
    imports = kg.select(PREFIX + f"""SELECT ?d ?n ?g WHERE {{ GRAPH <{G}derivations> {{
        ?d ck:derivedCount ?n ; prov:wasDerivedFrom ?g FILTER NOT EXISTS {{ ?d ck:rule ?rule }} }} }}""")
    assert imports, "no record of the import's inferences"  # an import's inferences: one record, no graph
    assert all(r["g"].startswith(G + "ext/") and int(r["n"]) > 0 and r["d"] not in graphs for r in imports), imports
    unsupported = kg.select(PREFIX + f"""SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{G}derivations> {{
        ?d a ck:Derivation FILTER NOT EXISTS {{ ?d prov:wasDerivedFrom ?g }} }} }}""")
    assert unsupported[0]["n"] == "0"


def test_a_claims_inferred_triple_names_that_claim_and_its_quote(kg):
    """Every inferred triple of a derivation group names the claims it rests on, and each claim
    has its evidence quote in graph/provenance; where a prp-spo1 group rests on one claim and no
    inferred premise, that claim states the subproperty triple each of its triples comes from."""
    rows = kg.select(PREFIX + f"""SELECT ?s ?p ?o ?claim ?quote WHERE {{
        GRAPH ?d {{ ?s ?p ?o }} FILTER (STRSTARTS(STR(?d), "{DERIVATION}"))
        GRAPH <{G}derivations> {{ ?d prov:wasDerivedFrom ?claim }}
        FILTER (STRSTARTS(STR(?claim), "{CLAIM}"))
        OPTIONAL {{ GRAPH <{G}provenance> {{ ?claim ck:evidence ?quote }} }} }}""")
    assert len(rows) > 4000
    assert all(r.get("quote") for r in rows), [r for r in rows if not r.get("quote")][:3]
    # prp-spo1 on one claim and no inferred premise: that claim states the subproperty triple (s q o)
    one_claim = kg.select(PREFIX + f"""SELECT ?s ?p ?o ?claim ?stated WHERE {{
        GRAPH ?d {{ ?s ?p ?o }} FILTER (STRSTARTS(STR(?d), "{DERIVATION}"))
        GRAPH <{G}derivations> {{ ?d ck:rule "prp-spo1" ; ck:axiom ?q ; prov:wasDerivedFrom ?claim }}
        FILTER NOT EXISTS {{ GRAPH <{G}derivations> {{ ?d prov:wasDerivedFrom ?other FILTER (?other != ?claim) }} }}
        FILTER NOT EXISTS {{ GRAPH <{G}derivations> {{ ?d ck:premise ?inferred }} }}
        FILTER (STRSTARTS(STR(?claim), "{CLAIM}"))
        OPTIONAL {{ GRAPH ?claim {{ ?s ?q ?o }} BIND (true AS ?stated) }} }}""")
    assert len(one_claim) > 100
    assert all(r.get("stated") for r in one_claim), [r for r in one_claim if not r.get("stated")][:3]


def test_premises_are_derivations_that_exist(kg):
    """ck:premise links a group to the groups of its triples' inferred premises; none dangles, and
    each names a group graph of the dataset (or an import record)."""
    dangling = kg.select(PREFIX + f"""SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{G}derivations> {{
        ?d ck:premise ?p FILTER NOT EXISTS {{ ?p a ck:Derivation }} }} }}""")
    assert dangling[0]["n"] == "0"
    targets = kg.select(PREFIX + f"""SELECT DISTINCT ?d ?p WHERE {{ GRAPH <{G}derivations> {{ ?d ck:premise ?p }} }}""")
    assert targets
    graphs = set(kg.graph_names())
    assert all(r["p"] in graphs or r["p"].startswith(DERIVATION + "imports-") for r in targets)
    assert all(r["p"] != r["d"] for r in targets)  # a group is not listed among its own premises
    # a premise group holds a triple that a triple of the group could rest on: it shares a node
    unrelated = kg.select(PREFIX + f"""SELECT ?d ?p WHERE {{ GRAPH <{G}derivations> {{ ?d ck:premise ?p }}
        FILTER NOT EXISTS {{ GRAPH ?d {{ ?s ?x ?o }} GRAPH ?p {{ ?a ?y ?b }}
                             FILTER (?s IN (?a, ?b) || ?o IN (?a, ?b)) }}
        FILTER (!STRSTARTS(STR(?p), "{DERIVATION}imports-")) }} LIMIT 3""")
    assert not unrelated, unrelated


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
    assert not any(n.startswith(DERIVATION) for n in names)
    assert any(n.startswith(DERIVATION) for n in kg.graph_names())
    in_groups = f'SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?s ?p ?o }} FILTER (STRSTARTS(STR(?g), "{DERIVATION}")) }}'
    assert kg.select(in_groups, asserted_only=True)[0]["n"] == "0"
    assert int(kg.select(in_groups)[0]["n"]) > 0


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
    # maker presentIn park (prp-spo1 on locatedIn, A) rests on maker locatedIn park (prp-spo1 on tenantOf, A);
    # park contains maker (prp-inv, A) too: both groups name that group as premise; district contains park
    # (prp-inv, B) rests on an asserted triple: no premise
    from chainkg.build.provenance import group_key

    def group(t):
        return prov.groups[group_key(prov.derivations[t])]

    tenant = group((u("maker"), u("locatedIn"), u("park")))
    assert group((u("maker"), u("presentIn"), u("park"))).premises == {tenant.iri}
    assert group((u("park"), u("contains"), u("maker"))).premises == {tenant.iri}
    assert group((u("district"), u("contains"), u("park"))).premises == set()
    assert sum(g.count for g in prov.groups.values()) == len(inferred) == prov.grouped()
    quads = list(prov.quads())
    in_graphs = [q for q in quads if q.graph_name.value.startswith(DERIVATION)]
    assert len(in_graphs) == len(inferred)
    assert {(q.subject.value, q.predicate.value, q.object.value) for q in in_graphs} == {
        tuple(str(x) for x in t) for t in inferred}
    described = [q for q in quads if q.graph_name.value == G + "derivations"]
    assert len(described) == prov.description_size() == len(quads) - len(inferred)
    assert {q.graph_name.value for q in in_graphs} == {q.subject.value for q in described}


def test_triples_that_hold_for_the_same_reason_share_one_group():
    """Two makers tenantOf one park in claim A: both 'locatedIn park' triples are one group (prp-spo1,
    ck:tenantOf, {A}), with one IRI from that key, the same in another run. A transitive chain within
    claim B rests on its own group: the group is not listed as its own premise."""
    from chainkg.build.provenance import group_iri, group_key

    a, b = CLAIM + "a", CLAIM + "b"
    asserted = {(u("maker"), u("tenantOf"), u("park")): [a], (u("maker2"), u("tenantOf"), u("park")): [a],
                (u("x"), u("locatedIn"), u("y")): [b], (u("y"), u("locatedIn"), u("z")): [b],
                (u("z"), u("locatedIn"), u("w")): [b]}
    inferred = {(u("maker"), u("locatedIn"), u("park")), (u("maker2"), u("locatedIn"), u("park")),
                (u("x"), u("locatedIn"), u("z")), (u("y"), u("locatedIn"), u("w")), (u("x"), u("locatedIn"), u("w"))}
    schema = {(u("tenantOf"), SUB_PROP, u("locatedIn")), (u("locatedIn"), RDF_TYPE, TRANSITIVE)}
    prov = trace(set(asserted) | inferred | schema, asserted, inferred, {s for s, _p, _o in schema})
    tenant = prov.groups[group_key(prov.derivations[(u("maker"), u("locatedIn"), u("park"))])]
    assert tenant is prov.groups[group_key(prov.derivations[(u("maker2"), u("locatedIn"), u("park"))])]
    assert (tenant.rule, tenant.axiom, set(tenant.rests), tenant.count) == ("prp-spo1", u("tenantOf"), {a}, 2)
    assert tenant.iri == group_iri(("prp-spo1", u("tenantOf"), frozenset({a})))
    assert tenant.iri.startswith("https://w3id.org/chainkg/derivation/")
    chain = prov.groups[group_key(prov.derivations[(u("x"), u("locatedIn"), u("w"))])]
    assert chain.rule == "prp-trp" and chain.count == 3 and chain.premises == set()
    assert len(prov.groups) == 2
    again = trace(set(asserted) | inferred | schema, asserted, inferred, {s for s, _p, _o in schema})
    assert {g.iri for g in again.groups.values()} == {g.iri for g in prov.groups.values()}


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
    assert not any(q.graph_name.value in derived or q.graph_name.value.startswith(DERIVATION)
                   for q in selected_quads(kg, "asserted"))
    assert {q.graph_name.value for q in selected_quads(kg, "inferred")} == {G + "inferred"}
    everything = {q.graph_name.value for q in selected_quads(kg, "all")}
    assert derived <= everything and any(g.startswith(DERIVATION) for g in everything)


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



def test_a_tie_is_broken_by_iri_order_not_by_the_order_premises_arrive_in():
    """Two derivations resting on as many claims (maker presentIn park from claim z's ck:operates or from
    claim a's ck:partOf, one claim each): the one on the first claim in IRI order is kept whichever premise
    is met first. The order premises arrive in follows set order, which varies per process (hash seed),
    so without this a derivation group's IRI changed from build to build."""
    sub = URIRef("http://www.w3.org/2000/01/rdf-schema#subPropertyOf")
    schema = {(u("operates"), sub, u("presentIn")), (u("partOf"), sub, u("presentIn"))}
    t = (u("maker"), u("presentIn"), u("park"))
    stated = [((u("maker"), u("operates"), u("park")), [CLAIM + "z"]), ((u("maker"), u("partOf"), u("park")), [CLAIM + "a"])]
    chosen = []
    for order in (stated, stated[::-1]):
        asserted = dict(order)
        prov = trace(set(asserted) | {t} | schema, {**asserted, **{x: ["graph/ontology"] for x in schema}}, {t},
                     {x[0] for x in schema})
        chosen.append((prov.derivations[t][1], set(prov.derivations[t][3])))
    assert chosen == [(u("partOf"), {CLAIM + "a"})] * 2, chosen
