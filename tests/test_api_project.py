"""The web tests' project: a tiny chain in a temporary folder, built once, served by gunicorn.

No tests here; the API, UI, OpenAPI and browser tests import these fixtures. Its facts are
invented (slugs `t-...`), so the tests do not depend on what the articles say. Expensive
things (the build, the server) are made once per test process, whichever module asks first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chainkg.build.pipeline import build
from chainkg.config import Config
from conftest import PREFIXES, make_project
from live_server import start_server

ID = "https://w3id.org/chainkg/id/"

SOURCES = PREFIXES + """\
@prefix dcterms: <http://purl.org/dc/terms/> .
src:900_alpha a ck:Source ; dcterms:identifier "900_alpha.txt" ; dcterms:title "测试文章甲"@zh ;
    dcterms:publisher <https://w3id.org/chainkg/source/agent/chainkg-tests> ; dcterms:date "2024-04-01"^^xsd:date ; dcterms:language <http://id.loc.gov/vocabulary/iso639-1/zh> .
src:901_beta a ck:Source ; dcterms:identifier "901_beta.txt" ; dcterms:title "Test article B"@en ;
    dcterms:publisher <https://w3id.org/chainkg/source/agent/chainkg-tests> ; dcterms:date "2025-01"^^xsd:gYearMonth ; dcterms:language <http://id.loc.gov/vocabulary/iso639-1/en> .
"""


def _entity(slug: str, zh: str, en: str, cls: str, extra: str = "") -> str:
    return (f'    id:{slug} a {cls} ;\n        rdfs:label "{zh}"@zh , "{en}"@en ; skos:prefLabel "{zh}"@zh'
            + (f" ;\n        {extra}" if extra else "") + " .\n")


def _claim(name: str, source: str, quote: str, body: str) -> str:
    return f'claim:{name} {{\n{body}}}\nclaim:{name} a ck:Claim ; prov:wasDerivedFrom src:{source} ; ck:evidence "{quote}"@zh .\n\n'


# Twelve tenants of the test park, so that pagination has pages.
TENANTS = "".join(
    _entity(f"t-tenant-{i:02d}", f"测试入驻企业{i:02d}", f"Test Tenant {i:02d}", "ck:Enterprise",
            "ck:tenantOf id:t-park ; ck:inSegment id:t-packaging")
    for i in range(1, 13)
)

TRIG = PREFIXES + "\n" + _claim("900-chain", "900_alpha", "测试产业链有四个环节", (
    _entity("t-industry", "测试产业", "test industry", "ck:Industry")
    + _entity("t-chain", "测试产业链", "Test chain", "ck:IndustrialChain", "ck:hasIndustry id:t-industry")
    + _entity("t-materials", "测试材料", "test materials", "ck:ChainSegment",
              "skos:inScheme id:t-chain ; ck:hasChainPosition ck:Upstream ; ck:precedes id:t-fab")
    + _entity("t-design", "测试设计", "test design", "ck:ChainSegment",
              "skos:inScheme id:t-chain ; ck:hasChainPosition ck:Upstream ; ck:precedes id:t-fab")
    + _entity("t-fab", "测试制造", "test fabrication", "ck:ChainSegment",
              "skos:inScheme id:t-chain ; ck:hasChainPosition ck:Midstream ; ck:precedes id:t-packaging")
    + _entity("t-packaging", "测试封测", "test packaging", "ck:ChainSegment",
              "skos:inScheme id:t-chain ; ck:hasChainPosition ck:Downstream")
    + _entity("t-equipment", "测试设备", "test equipment", "ck:ChainSegment", "skos:inScheme id:t-chain ; ck:hasChainPosition ck:Upstream")
)) + _claim("900-park", "900_alpha", "测试园区位于崂山区", (
    _entity("t-park", "测试园区", "Test Park", "ck:IndustrialPark", "ck:locatedIn id:laoshan-district")
    + _entity("t-leader", "测试链主", "Test Leader", "ck:Enterprise",
              "ck:tenantOf id:t-park ; ck:inSegment id:t-fab ; ck:holdsChainLeaderRole <https://w3id.org/chainkg/id/role/t-leader--chain-leader--t-chain--2024--actual>")
    + _entity("t-lead-firm", "测试龙头企业", "Test Leading Firm", "ck:Enterprise", "ck:holdsLeadingEnterpriseRole <https://w3id.org/chainkg/id/role/t-lead-firm--leading-enterprise--t-chain--2024--actual>")
    # roles are assignments (issue #12 item 3): ck:chainLeaderOf / ck:leadingEnterpriseOf are derived from them
    + "".join(f"    {r} a ck:RoleAssignment ; ck:hasRole {role} ; ck:roleIndustry id:t-chain ; ck:hasModality ck:ModalityActual ;\n"
              "        ck:pointInTime \"2024\"^^xsd:gYear ; ck:hasTimeBasis ck:TimeFromPublication .\n"
              for r, role in (("<https://w3id.org/chainkg/id/role/t-leader--chain-leader--t-chain--2024--actual>", "ck:RoleChainLeader"), ("<https://w3id.org/chainkg/id/role/t-lead-firm--leading-enterprise--t-chain--2024--actual>", "ck:RoleLeadingEnterprise")))
    + _entity("t-designer", "测试设计公司", "Test Designer", "ck:Enterprise", "ck:locatedIn id:jimo-district ; ck:inSegment id:t-design")
    + _entity("t-supplier", "测试材料公司", "Test Materials Co", "ck:Enterprise",
              "ck:locatedIn id:jimo-district ; ck:inSegment id:t-materials")
)) + _claim("900-supply", "900_alpha", "测试材料公司向测试链主供货", """\
    id:t-supplier ck:supplies id:t-leader .
    id:t-designer ck:supplies id:t-leader .
""") + _claim("900-tenants", "900_alpha", "十二家企业入驻测试园区", TENANTS) + _claim(
    "900-park-figures", "900_alpha", "测试园区投资约6亿元，有48家重点企业，2027年产值目标100亿元", """\
    id:t-park ck:hasQuantity [ a ck:Quantity ; ck:hasMetric ck:Investment ; ck:value 600000000.0 ; ck:hasUnit ck:Yuan ;
            ck:hasQualifier ck:About ; ck:originalWording "约6亿元"@zh ; ck:refersToTime "2023"^^xsd:gYear ;
            ck:hasVariable ck:ProjectTotalInvestment ; ck:hasModality ck:ModalityActual ; ck:pointInTime "2023"^^xsd:gYear ; ck:hasTimeBasis ck:TimeStated ] ,
        [ a ck:Quantity ; ck:hasMetric ck:Count ; ck:value 48.0 ; ck:hasUnit ck:Item ;
            ck:originalWording "48家"@zh ; ck:refersToTime "2024"^^xsd:gYear ;
            ck:hasVariable ck:KeyEnterprisesSettled ; ck:hasModality ck:ModalityActual ; ck:pointInTime "2024"^^xsd:gYear ; ck:hasTimeBasis ck:TimeStated ] ;
        ck:hasTarget [ a ck:Target ; ck:hasMetric ck:OutputValue ; ck:value 10000000000.0 ; ck:hasUnit ck:Yuan ;
            ck:originalWording "100亿元"@zh ;
            ck:hasVariable ck:AnnualOutputValue ; ck:hasModality ck:ModalityTarget ; ck:startTime "2027"^^xsd:gYear ; ck:endTime "2027"^^xsd:gYear ; ck:hasTimeBasis ck:TimeStated ] .
""") + _claim("901-park-count", "901_beta", "测试园区有40家重点企业", """\
    id:t-park ck:hasQuantity [ a ck:Quantity ; ck:hasMetric ck:Count ; ck:value 40.0 ; ck:hasUnit ck:Item ;
            ck:originalWording "40家"@zh ; ck:refersToTime "2024"^^xsd:gYear ;
            ck:hasVariable ck:KeyEnterprisesSettled ; ck:hasModality ck:ModalityActual ; ck:pointInTime "2024"^^xsd:gYear ; ck:hasTimeBasis ck:TimeStated ] .
""")


# Saved queries of the test project only: one parameter of every type, and a CONSTRUCT.
TYPED_QUERY = """\
#+ title: Every parameter type
#+ description: Test query; each parameter narrows the answer when given.
#+ tags: [test]
#+ params:
#+   - {name: park, type: iri, description: a park}
#+   - {name: label, type: string, lang: en, description: an English label}
#+   - {name: minTenants, type: integer, default: 0}
#+   - {name: share, type: decimal, default: "0.5"}
#+   - {name: day, type: date, default: "2024-04-01"}
#+   - {name: year, type: year, default: "2024"}
#+   - {name: kind, type: enum, enum: [enterprise, any], default: any}
#+   - {name: segment, type: list, items: iri}
PREFIX ck: <https://w3id.org/chainkg/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?tenant ?tenantLabel ?park ?segment ?minTenants ?share ?day ?year WHERE {
  VALUES ?segment { UNDEF }
  ?tenant ck:tenantOf ?park ; rdfs:label ?label ; rdfs:label ?tenantLabel .
  FILTER (lang(?tenantLabel) = "en")
  OPTIONAL { ?tenant ck:inSegment ?inSegment }
  FILTER (!BOUND(?segment) || ?inSegment = ?segment)
  FILTER (?kind = "any" || EXISTS { ?tenant a ck:Enterprise })
  FILTER (?minTenants >= 0 && ?share > 0 && ?day > "2000-01-01"^^<http://www.w3.org/2001/XMLSchema#date>)
}
ORDER BY ?tenantLabel
"""
GRAPH_QUERY = """\
#+ title: The test park as a graph
#+ description: Test query (CONSTRUCT).
#+ params:
#+   - {name: park, type: iri, default: "https://w3id.org/chainkg/id/t-park"}
PREFIX ck: <https://w3id.org/chainkg/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
CONSTRUCT { ?tenant ck:tenantOf ?park ; rdfs:label ?label } WHERE { ?tenant ck:tenantOf ?park ; rdfs:label ?label }
"""


def make_web_project(root: Path) -> Path:
    """A project folder: the repository's ontology, shapes, background places and saved
    queries, plus the invented test chain and the test queries above."""
    return make_project(root, trig=TRIG, sources=SOURCES, saved_queries=True,
                        queries={"t-typed.rq": TYPED_QUERY, "t-graph.rq": GRAPH_QUERY})


_SINGLETONS: dict = {}


@pytest.fixture(scope="session")
def web_config(tmp_path_factory) -> Config:
    if "config" not in _SINGLETONS:
        root = make_web_project(tmp_path_factory.mktemp("webproject"))
        config = Config(root=root, build_dir=root / "build")
        build(config)
        _SINGLETONS["config"] = config
    return _SINGLETONS["config"]


@pytest.fixture(scope="session")
def web_dataset(web_config):
    return build(web_config).dataset


@pytest.fixture(scope="session")
def web_app(web_config, web_dataset):
    from chainkg.web.app import create_app

    app = create_app(web_config, web_dataset)
    app.testing = True
    return app


@pytest.fixture
def client(web_app):
    return web_app.test_client()


@pytest.fixture(scope="session")
def web_server(web_config, request):
    """Base URL of `chainkg serve` (gunicorn, 1 worker) serving the test project on a free loopback port."""
    if "server" not in _SINGLETONS:
        server = start_server(["--workers", "1", "--threads", "4"], web_config.root / "server.log",
                              root_args=["--root", str(web_config.root), "--build-dir", str(web_config.cache_dir)])
        request.addfinalizer(server.stop)
        _SINGLETONS["server"] = server
    return _SINGLETONS["server"].url
