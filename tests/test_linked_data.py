"""Linked data over real HTTP: every IRI answers with HTML or RDF by content negotiation.

The server (`chainkg serve`, gunicorn) runs on 127.0.0.1 on a small fixture project: the
repository's ontology, shapes and background places plus one test article (ld-test-*), so that
the tests do not depend on what the articles say. test_dumps, test_void and test_browser_entity
import the fixtures from here.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import requests
from rdflib import Dataset, Graph, Literal, Namespace, URIRef
from rdflib.namespace import PROV, RDF, RDFS

from chainkg.build.pipeline import build
from chainkg.config import Config
from conftest import PREFIXES, make_project
from live_server import start_server
from store_serving import SERVED, mark_known_difference, project_store_server

CK = Namespace("https://w3id.org/chainkg/ontology#")
ID = Namespace("https://w3id.org/chainkg/id/")
CLAIM = Namespace("https://w3id.org/chainkg/claim/")
SRC = Namespace("https://w3id.org/chainkg/source/")
INFERRED = URIRef("https://w3id.org/chainkg/graph/inferred")
EVIDENCE = "测试芯片制造是测试园区的链主，向测试买家供货，投资超12亿元"
TENANTS = 60  # more incoming links than one page shows

SOURCES = """\
@prefix ck:      <https://w3id.org/chainkg/ontology#> .
@prefix src:     <https://w3id.org/chainkg/source/> .
@prefix dcterms: <http://purl.org/dc/terms/> .
@prefix xsd:     <http://www.w3.org/2001/XMLSchema#> .

src:990_ld_test a ck:Source ;
    dcterms:identifier "990_ld_test.txt" ;
    dcterms:title "测试文章：链主与园区"@zh ;
    dcterms:publisher <https://w3id.org/chainkg/source/agent/chainkg-tests> ;
    dcterms:date "2024-04-01"^^xsd:date ;
    dcterms:language <http://id.loc.gov/vocabulary/iso639-1/zh> .

src:background a ck:Source ;
    dcterms:title "背景知识"@zh , "Background knowledge"@en ;
    dcterms:publisher <https://w3id.org/chainkg/source/agent/chainkg> ;
    dcterms:date "2026-11-22"^^xsd:date ;
    dcterms:language <http://id.loc.gov/vocabulary/iso639-1/en> .
"""

CLAIMS = PREFIXES + f"""
claim:990-maker {{
    id:ld-test-maker a ck:Enterprise ;
        rdfs:label "测试芯片制造"@zh , "Test Chip Maker"@en ; skos:prefLabel "测试芯片制造"@zh ;
        ck:tenantOf id:ld-test-park ;
        ck:holdsChainLeaderRole <https://w3id.org/chainkg/id/role/ld-test-maker--chain-leader--ld-test-park--2024--actual> ;
        ck:supplies id:ld-test-buyer ;
        ck:hasQuantity [ a ck:Quantity ; ck:hasMetric ck:Investment ; ck:value 1200000000.0 ; ck:hasUnit ck:Yuan ;
            ck:hasQualifier ck:Over ; ck:originalWording "超12亿元"@zh ; ck:refersToTime "2024"^^xsd:gYear ;
            ck:hasVariable ck:ProjectTotalInvestment ; ck:hasModality ck:ModalityActual ; ck:pointInTime "2024"^^xsd:gYear ; ck:hasTimeBasis ck:TimeStated ] .
    <https://w3id.org/chainkg/id/role/ld-test-maker--chain-leader--ld-test-park--2024--actual> a ck:RoleAssignment ;
        ck:hasRole ck:RoleChainLeader ; ck:rolePlace id:ld-test-park ; ck:hasModality ck:ModalityActual ;
        ck:pointInTime "2024"^^xsd:gYear ; ck:hasTimeBasis ck:TimeFromPublication .
    id:ld-test-park a ck:IndustrialPark ;
        rdfs:label "测试园区"@zh , "Test Park"@en ; skos:prefLabel "测试园区"@zh ;
        ck:locatedIn id:laoshan-district .
    id:ld-test-buyer a ck:Enterprise ;
        rdfs:label "测试买家"@zh , "Test Buyer"@en ; skos:prefLabel "测试买家"@zh ;
        ck:locatedIn id:qingdao .
}}
claim:990-maker a ck:Claim ; prov:wasDerivedFrom src:990_ld_test ; ck:evidence "{EVIDENCE}"@zh .

claim:990-tenants {{
""" + "".join(
    f'    id:ld-test-firm-{i:02d} a ck:Enterprise ; rdfs:label "测试企业{i:02d}"@zh , "Test Firm {i:02d}"@en ;\n'
    f'        skos:prefLabel "测试企业{i:02d}"@zh ; ck:tenantOf id:ld-test-park .\n'
    for i in range(TENANTS)
) + """}
claim:990-tenants a ck:Claim ; prov:wasDerivedFrom src:990_ld_test ; ck:evidence "园区已入驻六十家测试企业"@zh .
"""

ACCEPT = {
    "ttl": ("text/turtle", "turtle"),
    "jsonld": ("application/ld+json", "json-ld"),
    "nt": ("application/n-triples", "nt"),
    "rdf": ("application/rdf+xml", "xml"),
    "trig": ("application/trig", "trig"),
    "nq": ("application/n-quads", "nquads"),
}
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


def parse(body: bytes, ext: str):
    """RDF bytes -> rdflib Dataset (quad formats) or Graph."""
    fmt = ACCEPT[ext][1]
    g = Dataset() if ext in ("trig", "nq") else Graph()
    g.parse(data=body, format=fmt)
    return g


_servers: dict = {}


@pytest.fixture(scope="session")
def ld_project(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.getbasetemp() / "ld-project", trig=CLAIMS, sources=SOURCES, article="990_ld_test")


@pytest.fixture(scope="session")
def ld_config(ld_project) -> Config:
    return Config(root=ld_project, build_dir=ld_project / "build")


@pytest.fixture(scope="session")
def ld_dataset(ld_config):
    return build(ld_config).dataset


@pytest.fixture(scope="session", params=SERVED)
def ld_server(ld_project, ld_dataset, request) -> str:
    """Base URL of `chainkg serve` (gunicorn, 2 workers) on the fixture project; one per test session;
    and of `serve --store` on Oxigraph and Virtuoso holding the project (tests/store_serving.py)."""
    if request.param != "embedded":
        return project_store_server(request.param, request, ld_project, ["--workers", "2", "--threads", "4"])
    if "url" not in _servers:
        server = start_server(["--workers", "2", "--threads", "4"], ld_project / "server.log",
                              root_args=["--root", str(ld_project), "--build-dir", str(ld_project / "build")])
        request.addfinalizer(server.stop)
        _servers["url"] = server.url
    return _servers["url"]


@pytest.fixture(autouse=True)
def _store_differences(request):
    mark_known_difference(request)


# -- dereferencing -------------------------------------------------------------------------------------

@pytest.mark.parametrize("ext", list(ACCEPT))
def test_entity_iri_negotiates_every_rdf_format(ld_server, ext):
    media = ACCEPT[ext][0]
    r = requests.get(ld_server + "/id/ld-test-maker", headers={"Accept": media})
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0] == media
    assert r.headers["Content-Location"] == f"/id/ld-test-maker.{ext}"
    assert "Accept" in r.headers["Vary"]
    g = parse(r.content, ext)
    maker = ID["ld-test-maker"]
    triples = set(g.triples((None, None, None))) if isinstance(g, Graph) and not isinstance(g, Dataset) else \
        {(s, p, o) for s, p, o, _ in g.quads((None, None, None, None))}
    # outgoing, asserted and inferred; a quantity node; incoming; the claim's provenance
    assert (maker, RDFS.label, Literal("Test Chip Maker", lang="en")) in triples
    assert (maker, RDF.type, CK.ChainLeader) in triples
    quantity = next(o for s, p, o in triples if s == maker and p == CK.hasQuantity)
    assert (quantity, CK.originalWording, Literal("超12亿元", lang="zh")) in triples
    assert (ID["ld-test-buyer"], CK.suppliedBy, maker) in triples
    assert (ID["ld-test-park"], CK.hasChainLeader, maker) in triples
    assert (CLAIM["990-maker"], PROV.wasDerivedFrom, SRC["990_ld_test"]) in triples
    assert (CLAIM["990-maker"], CK.evidence, Literal(EVIDENCE, lang="zh")) in triples


def test_quad_formats_keep_claim_and_inferred_graphs(ld_server):
    r = requests.get(ld_server + "/id/ld-test-maker.trig")
    ds = parse(r.content, "trig")
    maker = ID["ld-test-maker"]
    assert (maker, CK.tenantOf, ID["ld-test-park"], CLAIM["990-maker"]) in set(ds.quads((maker, None, None, None)))
    assert (maker, RDF.type, CK.ChainLeader, INFERRED) in set(ds.quads((maker, RDF.type, None, None)))


@pytest.mark.parametrize("ext", list(ACCEPT) + ["html", "json"])
def test_suffix_selects_the_representation(ld_server, ext):
    r = requests.get(ld_server + f"/id/ld-test-maker.{ext}", headers={"Accept": "image/png"})
    assert r.status_code == 200
    expected = {"html": "text/html", "json": "application/json"}.get(ext) or ACCEPT[ext][0]
    assert r.headers["Content-Type"].split(";")[0] == expected
    assert "Content-Location" not in r.headers
    links = r.headers["Link"]
    for other in set(ACCEPT) - {ext}:
        assert f"</id/ld-test-maker.{other}>; rel=\"alternate\"" in links
    assert 'rel="license"' in links
    if ext in ACCEPT:
        assert len(parse(r.content, ext)) > 0


@pytest.mark.parametrize("accept, expected", [
    (BROWSER_ACCEPT, "text/html"),
    ("*/*", "text/turtle"),
    (None, "text/turtle"),
    ("application/json", "application/ld+json"),
    ("text/turtle;q=0.5, application/rdf+xml", "application/rdf+xml"),
    ("text/*", "text/turtle"),
])
def test_content_negotiation_table(ld_server, accept, expected):
    headers = {"Accept": accept} if accept else {}
    s = requests.Session()
    if accept is None:
        s.headers.pop("Accept", None)
    r = s.get(ld_server + "/id/qingdao", headers=headers)
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0] == expected


def test_unacceptable_is_406_listing_the_alternatives(ld_server):
    r = requests.get(ld_server + "/id/qingdao", headers={"Accept": "image/png"})
    assert r.status_code == 406
    assert "/id/qingdao.ttl" in r.text


def test_iris_map_to_this_host_and_back(ld_server, ld_dataset):
    """Every IRI under the base in a description answers on this host (as Pubby/Trifid do)."""
    g = parse(requests.get(ld_server + "/id/ld-test-maker.ttl").content, "ttl")
    base = "https://w3id.org/chainkg/"
    iris = {str(t) for triple in g for t in triple if isinstance(t, URIRef) and str(t).startswith(base)}
    paths = {"/" + i[len(base):].split("#")[0] for i in iris}
    assert {"/id/ld-test-park", "/claim/990-maker", "/source/990_ld_test", "/ontology", "/id/qingdao"} <= paths
    for path in sorted(paths):
        r = requests.get(ld_server + path, headers={"Accept": "text/turtle"})
        assert r.status_code == 200, path


def test_unknown_slug_is_a_helpful_404(ld_server):
    r = requests.get(ld_server + "/id/ld-test-makr", headers={"Accept": BROWSER_ACCEPT})
    assert r.status_code == 404
    assert "text/html" in r.headers["Content-Type"]
    assert 'href="/id/ld-test-maker"' in r.text
    r = requests.get(ld_server + "/id/no-such-thing-at-all", headers={"Accept": "text/turtle"})
    assert r.status_code == 404 and "no-such-thing-at-all" in r.text


def test_claim_and_source_pages(ld_server):
    ds = parse(requests.get(ld_server + "/claim/990-maker.trig").content, "trig")
    claim = CLAIM["990-maker"]
    assert (ID["ld-test-maker"], CK.supplies, ID["ld-test-buyer"], claim) in set(ds.quads((None, CK.supplies, None, None)))
    page = requests.get(ld_server + "/source/990_ld_test.json").json()
    claims = [r for g in page["incoming"]["groups"] for r in g["rows"] if r.get("claim")]
    assert any(EVIDENCE in r["claim"]["evidence"] for r in claims)


def test_entity_json_twin_matches_the_page(ld_server):
    ctx = requests.get(ld_server + "/id/ld-test-maker.json?lang=en").json()
    assert ctx["label"] == "Test Chip Maker"
    assert {lab["value"] for lab in ctx["labels"]} >= {"测试芯片制造", "Test Chip Maker"}
    groups = {g["property"]["iri"]: g for g in ctx["statements"]}
    supplies = groups[str(CK.supplies)]["values"][0]
    assert supplies["value"]["url"] == "/id/ld-test-buyer" and supplies["value"]["label"] == "Test Buyer"
    assert supplies["claims"][0]["evidence"] == [EVIDENCE]
    assert supplies["claims"][0]["source"]["title"] == "测试文章：链主与园区"
    assert not supplies["inferred"]
    quantity = groups[str(CK.hasQuantity)]["values"][0]["value"]["fields"]
    assert quantity["originalWording"]["value"] == "超12亿元"
    assert quantity["value"]["display"] == "1,200,000,000"
    assert quantity["hasUnit"]["url"] == "/ontology#Yuan" and quantity["refersToTime"]["value"] == "2024"
    types = {t["value"]["iri"]: t["inferred"] for t in ctx["types"]}
    assert types[str(CK.Enterprise)] is False and types[str(CK.ChainLeader)] is True
    assert ctx["describe_url"] == "/?query=DESCRIBE%20%3Chttps%3A%2F%2Fw3id.org%2Fchainkg%2Fid%2Fld-test-maker%3E"


def test_parks_show_tenants_and_chain_leader_enterprises_both_ways(ld_server):
    park = requests.get(ld_server + "/id/ld-test-park.json").json()
    groups = {g["property"]["iri"]: g for g in park["statements"]}
    assert groups[str(CK.hasTenant)]["count"] == TENANTS + 1
    assert [v["value"]["iri"] for v in groups[str(CK.hasChainLeader)]["values"]] == [str(ID["ld-test-maker"])]
    assert park["highlights"][0]["label"] in ("has tenant", "入驻者", "contains", "包含")
    buyer = requests.get(ld_server + "/id/ld-test-buyer.json").json()
    supplied_by = next(g for g in buyer["statements"] if g["property"]["iri"] == str(CK.suppliedBy))
    assert supplied_by["values"][0]["inferred"] is True


def test_long_incoming_lists_are_paged(ld_server):
    first = requests.get(ld_server + "/id/ld-test-park.json").json()["incoming"]
    assert first["total"] > first["page_size"] and first["pages"] >= 2
    second = requests.get(ld_server + "/id/ld-test-park.json?page=2").json()["incoming"]
    assert second["page"] == 2
    rows = lambda inc: [(r["property"]["iri"], r["subject"]["iri"]) for g in inc["groups"] for r in g["rows"]]  # noqa: E731
    assert rows(first) and rows(second) and not set(rows(first)) & set(rows(second))
    pages = [requests.get(ld_server + f"/id/ld-test-park.json?page={n}").json()["incoming"] for n in range(1, first["pages"] + 1)]
    tenant_of = [g for inc in pages for g in inc["groups"] if g["property"]["iri"] == str(CK.tenantOf)]
    assert sum(len(g["rows"]) for g in tenant_of) == TENANTS + 1
    assert all(g["count"] == TENANTS + 1 for g in tenant_of)  # the total, not the rows on this page


def test_language_by_header_switch_and_cookie(ld_server):
    def h1(r):
        return r.text.split("<h1>", 1)[1].split("</h1>", 1)[0]

    assert h1(requests.get(ld_server + "/id/ld-test-maker", headers={"Accept": BROWSER_ACCEPT, "Accept-Language": "zh-CN,zh;q=0.9"})) == "测试芯片制造"
    assert h1(requests.get(ld_server + "/id/ld-test-maker", headers={"Accept": BROWSER_ACCEPT, "Accept-Language": "en-GB"})) == "Test Chip Maker"
    s = requests.Session()
    r = s.get(ld_server + "/id/ld-test-maker.html?lang=en", headers={"Accept-Language": "zh"})
    assert h1(r) == "Test Chip Maker" and r.cookies.get("lang") == "en"
    assert h1(s.get(ld_server + "/id/qingdao.html", headers={"Accept-Language": "zh"})) == "Qingdao"


def test_etag_revalidation(ld_server):
    r = requests.get(ld_server + "/id/qingdao.ttl")
    assert r.headers["ETag"]
    again = requests.get(ld_server + "/id/qingdao.ttl", headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304


# -- the ontology and the shapes ---------------------------------------------------------------------------

@pytest.mark.parametrize("ext", ["ttl", "jsonld", "nt", "rdf"])
def test_ontology_rdf_twins(ld_server, ext):
    r = requests.get(ld_server + "/ontology", headers={"Accept": ACCEPT[ext][0]})
    assert r.status_code == 200 and r.headers["Content-Location"] == f"/ontology.{ext}"
    g = parse(r.content, ext)
    assert (CK.Enterprise, RDFS.label, Literal("企业", lang="zh")) in g
    assert (CK.locatedIn, URIRef("http://www.w3.org/2002/07/owl#inverseOf"), CK.contains) in g


def test_ontology_documentation_context(ld_server):
    doc = requests.get(ld_server + "/ontology.json").json()
    classes = {c["curie"]: c for c in doc["classes"]}
    props = {p["curie"]: p for p in doc["properties"]}
    assert classes["ck:Enterprise"]["labels"] == {"zh": "企业", "en": "enterprise"}
    assert classes["ck:Enterprise"]["definitions"]["zh"] and classes["ck:Enterprise"]["definitions"]["en"]
    assert classes["ck:Enterprise"]["instances"] >= TENANTS + 2
    assert any(s.get("iri") == str(CK.Organization) for s in classes["ck:Enterprise"]["superclasses"])
    located = props["ck:locatedIn"]
    assert "Transitive" in located["characteristics"]
    assert [i["iri"] for i in located["inverse"]] == [str(CK.contains)]
    assert located["uses"] > 0 and located["uses_inferred"] > 0
    assert [[x["iri"] for x in chain] for chain in props["ck:presentIn"]["chains"]] == [[str(CK.operates), str(CK.locatedIn)]]
    assert "Symmetric" in props["ck:cooperatesWith"]["characteristics"]
    html = requests.get(ld_server + "/ontology", headers={"Accept": BROWSER_ACCEPT}).text
    assert 'id="Enterprise"' in html and "企业" in html and "enterprise" in html


def test_shapes_are_served_as_turtle(ld_server):
    r = requests.get(ld_server + "/shapes.ttl")
    g = parse(r.content, "ttl")
    shapes = set(g.subjects(RDF.type, URIRef("http://www.w3.org/ns/shacl#NodeShape")))
    assert len(shapes) >= 5


def test_every_page_carries_the_licence(ld_server):
    for path in ("/id/qingdao", "/ontology", "/dumps/", "/.well-known/void", "/id/nope"):
        r = requests.get(ld_server + path, headers={"Accept": BROWSER_ACCEPT})
        assert "https://creativecommons.org/licenses/by/4.0/" in r.text, path


def test_gzip_dumps_are_not_content_encoded(ld_server):
    r = requests.get(ld_server + "/dumps/chainkg-all.nt.gz")
    assert r.headers["Content-Type"] == "application/gzip" and "Content-Encoding" not in r.headers
    assert gzip.decompress(r.content).startswith(b"# chainkg dataset")


def test_entity_pages_embed_schema_org_json_ld_with_reviewed_same_as(kg, config):
    """Issue 10 item 6: a crawler finds the thing's schema.org types (derived from our alignments),
    its names and its sameAs links (only reviewed links); the block cannot be closed by data."""
    import json
    import re

    from chainkg.web.app import create_app
    from chainkg.web.pages import script_json

    client = create_app(config, kg).test_client()
    r = client.get("/id/laoshan-district", headers={"Accept": "text/html"})
    block = re.search(rb'<script type="application/ld\+json">(.*?)</script>', r.data, re.S)
    doc = json.loads(block.group(1))
    assert doc["@id"] == "https://w3id.org/chainkg/id/laoshan-district" and "Place" in doc["@type"]
    assert {"@value": "崂山区", "@language": "zh"} in doc["name"]
    links = sorted(r["o"] for r in kg.select("SELECT ?o { id:laoshan-district skos:exactMatch ?o }"))
    assert links and doc["sameAs"] == links  # the reviewed GB/T 2260 link
    assert script_json({"name": "</script><script>alert(1)</script>"}).count("<") == 0
