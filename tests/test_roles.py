"""Roles as n-ary assignments (issue #12 item 3): holder, role, scope, time, modality, designating body.

The claims state a ck:RoleAssignment (id/role/{holder}--{role}--{scope}--{time}--{modality}); the binary
shortcuts (ck:chainLeaderOf, ck:leadingEnterpriseOf, ck:keyEnterpriseOf, ck:supportingEnterpriseOf and
the inverses ck:hasChainLeader, ck:hasLeadingEnterprise) are derived from the actual ones by OWL 2 RL
property chains (holder link o ck:roleScope), by both reasoners, with a ck:Derivation naming the claim.
Shape S26 requires each assignment's holder, role, scope, time and modality; S27 refuses a stated shortcut.
These tests read the repository's triples, the real build, a small project built with each reasoner,
and the saved query CQ09.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Dataset, Literal, URIRef

from chainkg.build.pipeline import ValidationFailed, build
from chainkg.config import Config
from conftest import PREFIXES, ROOT, make_project

CK = "https://w3id.org/chainkg/ontology#"
ID = "https://w3id.org/chainkg/id/"
ROLE = ID + "role/"
CLAIM = "https://w3id.org/chainkg/claim/"
G = "https://w3id.org/chainkg/graph/"
SHORTCUTS = [URIRef(CK + p) for p in ("chainLeaderOf", "leadingEnterpriseOf", "keyEnterpriseOf",
                                      "supportingEnterpriseOf", "hasChainLeader", "hasLeadingEnterprise")]
LINKS = {CK + "holdsChainLeaderRole": CK + "RoleChainLeader", CK + "holdsLeadingEnterpriseRole": CK + "RoleLeadingEnterprise",
         CK + "holdsKeyEnterpriseRole": CK + "RoleKeyEnterprise",
         CK + "holdsSupportingEnterpriseRole": CK + "RoleSupportingEnterprise", CK + "hasPlannedRole": None}
SLUG = {CK + "RoleChainLeader": "chain-leader", CK + "RoleLeadingEnterprise": "leading-enterprise",
        CK + "RoleKeyEnterprise": "key-enterprise", CK + "RoleSupportingEnterprise": "supporting-enterprise"}
PREFIX = f"PREFIX ck: <{CK}> PREFIX id: <{ID}> PREFIX prov: <http://www.w3.org/ns/prov#> " \
         "PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> "


def ask(kg, sparql: str) -> bool:
    return bool(kg.query(sparql))


@pytest.fixture(scope="module")
def claims() -> Dataset:
    ds = Dataset()
    for f in sorted((ROOT / "triples").glob("*.trig")):
        ds.parse(f, format="trig")
    return ds


def _assignments(ds: Dataset) -> list[dict]:
    out = []
    for holder, link, a, g in ds.quads((None, None, None, None)):
        if str(link) not in LINKS:
            continue
        d = {"holder": holder, "link": str(link), "iri": str(a), "graph": str(g.identifier if hasattr(g, "identifier") else g)}
        for key, p in (("role", "hasRole"), ("industry", "roleIndustry"), ("place", "rolePlace"),
                       ("modality", "hasModality"), ("time", "pointInTime"), ("basis", "hasTimeBasis"), ("setBy", "setBy")):
            d[key] = [o for _s, _p, o, g2 in ds.quads((a, URIRef(CK + p), None, None)) if g2 == g]
        out.append(d)
    return out


def test_no_claim_states_a_binary_shortcut(claims):
    stated = [(s, p, o, g) for p in SHORTCUTS for s, _p, o, g in claims.quads((None, p, None, None))]
    assert not stated, f"shortcuts stated in claims (state a ck:RoleAssignment instead): {stated[:5]}"


def test_every_role_statement_is_a_complete_assignment_with_a_deterministic_iri(claims):
    found = _assignments(claims)
    # the role statements of articles 001-004: 20 binary triples, two pairs of which were one role with
    # a double scope (Yihai Kerry's industry and district, Tsingtao's sub-track and district): 18 assignments
    assert len(found) >= 18, len(found)
    problems = []
    for a in found:
        if not (len(a["role"]) == 1 and a["industry"] + a["place"] and len(a["modality"]) == 1
                and len(a["time"]) == 1 and len(a["basis"]) == 1):
            problems.append(f"{a['iri']}: incomplete {a}")
            continue
        if not a["graph"].startswith(CLAIM):
            problems.append(f"{a['iri']}: stated outside a claim ({a['graph']})")
        role, modality = str(a["role"][0]), str(a["modality"][0])
        expected_role = LINKS[a["link"]]
        if expected_role is not None and (role != expected_role or not modality.endswith(("Actual", "Estimate"))):
            problems.append(f"{a['iri']}: link {a['link']} with {role}, {modality}")
        scope = "_".join(str(x[0])[len(ID):] for x in (a["industry"], a["place"]) if x)
        mod = modality.rsplit("Modality", 1)[-1].lower()
        iri = f"{ROLE}{str(a['holder'])[len(ID):]}--{SLUG[role]}--{scope}--{a['time'][0]}--{mod}"
        if a["iri"] != iri:
            problems.append(f"{a['iri']}: the rule gives {iri}")
    assert not problems, "\n".join(problems)


def test_the_issues_examples_keep_their_context(claims):
    by_holder = {}
    for a in _assignments(claims):
        by_holder.setdefault(str(a["holder"])[len(ID):], []).append(a)
    # 益海嘉里 is chain leader of the grain-oil industry IN Jiaozhou: one assignment, both scopes
    (yihai,) = by_holder["yihai-kerry"]
    assert [str(x) for x in yihai["industry"]] == [ID + "grain-oil-food-processing-industry"]
    assert [str(x) for x in yihai["place"]] == [ID + "jiaozhou"] and yihai["link"] == CK + "holdsChainLeaderRole"
    # Haier leads Jiaozhou's smart-appliance industry, and only as the district's plan (将以海尔集团为龙头)
    (haier,) = by_holder["haier"]
    assert [str(x) for x in haier["industry"]] == [ID + "smart-home-appliance-industry"]
    assert haier["link"] == CK + "hasPlannedRole" and haier["modality"] == [URIRef(CK + "ModalityTarget")]
    assert haier["setBy"] == [URIRef(ID + "jiaozhou")]
    # a time on every role: the article's date where it gives none
    assert Literal("2025-01", datatype=URIRef("http://www.w3.org/2001/XMLSchema#gYearMonth")) in haier["time"]


def test_the_shortcuts_are_derived_with_their_claims(kg):
    rows = kg.select(PREFIX + f"""SELECT ?p ?o WHERE {{ GRAPH <{G}inferred> {{ id:yihai-kerry ?p ?o }}
        FILTER (?p IN (ck:chainLeaderOf, ck:leadingEnterpriseOf)) }}""")
    got = {(r["p"][len(CK):], r["o"][len(ID):]) for r in rows}
    assert got == {("chainLeaderOf", "grain-oil-food-processing-industry"), ("chainLeaderOf", "jiaozhou"),
                   ("leadingEnterpriseOf", "grain-oil-food-processing-industry"), ("leadingEnterpriseOf", "jiaozhou")}, got
    assert ask(kg, PREFIX + f"ASK {{ GRAPH <{G}inferred> {{ id:jiaozhou ck:hasChainLeader id:yihai-kerry . "
                           "id:qingdao-new-display-industrial-park ck:hasChainLeader id:boe-qingdao-base } }")
    # 003 names the base as the 链主 ("链主"京东方青岛生产基地); the enterprise is reached through its operator
    assert ask(kg, PREFIX + "ASK { id:boe-qingdao-base ck:operatedBy id:boe }")
    why = kg.select(PREFIX + f"""SELECT ?rule ?axiom ?g WHERE {{ GRAPH ?d {{ id:yihai-kerry ck:chainLeaderOf id:jiaozhou }}
        GRAPH <{G}derivations> {{ ?d ck:rule ?rule ; ck:axiom ?axiom ; prov:wasDerivedFrom ?g }} }}""")
    assert {(r["rule"], r["axiom"]) for r in why} == {("prp-spo2", CK + "chainLeaderOf")}, why
    assert CLAIM + "004-jiaozhou-yihai-kerry" in {r["g"] for r in why}
    # every shortcut in the graph is an inferred one
    assert not kg.select(PREFIX + f"""SELECT ?s ?p ?o ?g WHERE {{ GRAPH ?g {{ ?s ?p ?o }}
        FILTER (?p IN (ck:chainLeaderOf, ck:leadingEnterpriseOf, ck:keyEnterpriseOf, ck:supportingEnterpriseOf,
                       ck:hasChainLeader, ck:hasLeadingEnterprise))
        FILTER (?g != <{G}inferred> && !STRSTARTS(STR(?g), "https://w3id.org/chainkg/derivation/")) }} LIMIT 5""")
    keys = kg.select(PREFIX + f"SELECT ?s WHERE {{ GRAPH <{G}inferred> {{ ?s ck:keyEnterpriseOf id:laoshan-software-info-services-park }} }}")
    assert {r["s"][len(ID):] for r in keys} == {"sugon", "hisense-network", "donghua-cloud"}


def test_a_planned_role_reads_as_a_plan_not_as_a_fact(kg):
    assert not ask(kg, PREFIX + "ASK { id:haier ck:leadingEnterpriseOf ?x }")
    assert not ask(kg, PREFIX + "ASK { id:haier a ck:ChainLeader }")
    assert ask(kg, PREFIX + """ASK { id:haier ck:hasPlannedRole ?a . ?a ck:hasModality ck:ModalityTarget ;
        ck:rolePlace id:jiaozhou ; ck:roleScope id:smart-home-appliance-industry }""")  # roleScope: inferred


def test_cq09_reads_the_assignments(saved):
    rows = saved("cq09-display-park-leaders")
    boe = [r for r in rows if r["label"] == "京东方" and r["role"].startswith("chain leader")]
    assert boe and {r["modality"] for r in boe} == {"actual"} and {r["time"] for r in boe} == {"2024-04"}
    hisense = {r["time"] for r in rows if r["label"] == "海信视像"}
    assert hisense == {"2024-04", "2025-01"}, hisense  # stated by 003 and again by 004: two dated assignments


ROLE_TRIG = PREFIXES + """@prefix role: <https://w3id.org/chainkg/id/role/> .
claim:900-roles {
    id:test-maker a ck:Enterprise ;
        rdfs:label "测试制造"@zh , "Test Maker"@en ; skos:prefLabel "测试制造"@zh ;
        ck:locatedIn id:laoshan-district .
    id:test-industry a ck:Industry ; rdfs:label "测试产业"@zh , "Test Industry"@en ; skos:prefLabel "测试产业"@zh .
    id:test-maker ck:holdsChainLeaderRole role:test-maker--chain-leader--test-industry_laoshan-district--2024-04-01--actual .
    role:test-maker--chain-leader--test-industry_laoshan-district--2024-04-01--actual a ck:RoleAssignment ;
        ck:hasRole ck:RoleChainLeader ; ck:roleIndustry id:test-industry ; ck:rolePlace id:laoshan-district ;
        ck:hasModality ck:ModalityActual ; ck:pointInTime "2024-04-01"^^xsd:date ; ck:hasTimeBasis ck:TimeFromPublication .
    id:test-buyer a ck:Enterprise ;
        rdfs:label "测试买家"@zh , "Test Buyer"@en ; skos:prefLabel "测试买家"@zh ; ck:locatedIn id:laoshan-district .
    id:test-buyer ck:hasPlannedRole role:test-buyer--key-enterprise--test-industry--2024-04-01--expected .
    role:test-buyer--key-enterprise--test-industry--2024-04-01--expected a ck:RoleAssignment ;
        ck:hasRole ck:RoleKeyEnterprise ; ck:roleIndustry id:test-industry ;
        ck:hasModality ck:ModalityExpected ; ck:pointInTime "2024-04-01"^^xsd:date ; ck:hasTimeBasis ck:TimeFromPublication .
}
claim:900-roles a ck:Claim ; prov:wasDerivedFrom src:900_test ; ck:evidence "测试制造是崂山区测试产业的链主"@zh .
"""


@pytest.mark.parametrize("reasoner", ["reasonable", "owlrl"])
def test_both_reasoners_derive_the_shortcuts(tmp_path, reasoner):
    root = make_project(tmp_path / "p", ROLE_TRIG)
    kg = build(Config(root=root, build_dir=root / "build", reasoner=reasoner)).dataset
    rows = kg.select(PREFIX + f"SELECT ?s ?p ?o WHERE {{ GRAPH <{G}inferred> {{ ?s ?p ?o }} "
                              "FILTER (?p IN (ck:chainLeaderOf, ck:leadingEnterpriseOf, ck:keyEnterpriseOf, ck:hasChainLeader)) }")
    got = {(r["s"][len(ID):], r["p"][len(CK):], r["o"][len(ID):]) for r in rows}
    assert got == {("test-maker", "chainLeaderOf", "test-industry"), ("test-maker", "chainLeaderOf", "laoshan-district"),
                   ("test-maker", "leadingEnterpriseOf", "test-industry"), ("test-maker", "leadingEnterpriseOf", "laoshan-district"),
                   ("test-industry", "hasChainLeader", "test-maker"), ("laoshan-district", "hasChainLeader", "test-maker")}, got
    assert ask(kg, PREFIX + f"ASK {{ GRAPH <{G}inferred> {{ id:test-maker a ck:ChainLeader }} }}")
    assert not ask(kg, PREFIX + "ASK { id:test-buyer ck:keyEnterpriseOf ?x }")  # expected, not actual


def _violations(tmp_path: Path, trig: str) -> str:
    root = make_project(tmp_path / "bad", trig)
    with pytest.raises(ValidationFailed) as e:
        build(Config(root=root, build_dir=root / "build"))
    return str(e.value)


def test_a_stated_shortcut_stops_the_build(tmp_path):
    trig = ROLE_TRIG.replace("ck:locatedIn id:laoshan-district .\n    id:test-industry",
                             "ck:locatedIn id:laoshan-district ; ck:chainLeaderOf id:test-industry .\n    id:test-industry", 1)
    report = _violations(tmp_path, trig)
    assert "is not asserted as a binary shortcut" in report and "S27-NoRoleShortcutShape" in report, report
    assert "900_test.trig" in report


def test_a_role_without_its_scope_stops_the_build(tmp_path):
    trig = ROLE_TRIG.replace("ck:hasRole ck:RoleKeyEnterprise ; ck:roleIndustry id:test-industry ;",
                             "ck:hasRole ck:RoleKeyEnterprise ;", 1)
    report = _violations(tmp_path, trig)
    assert "A role needs its scope" in report and "test-buyer--key-enterprise" in report, report


def test_entity_pages_show_the_roles(live_server):
    """The holder's page shows the derived shortcut and links its assignment; the assignment's page
    shows its role, scope, modality and time, over HTTP from the real server."""
    import urllib.request

    def page(path: str) -> str:
        req = urllib.request.Request(live_server.url + path, headers={"Accept": "text/html", "Accept-Language": "en"})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200
            return r.read().decode("utf-8")

    role = "yihai-kerry--chain-leader--grain-oil-food-processing-industry_jiaozhou--2025-01--actual"
    holder = page("/id/yihai-kerry")
    assert "/id/role/" + role in holder
    assert "chain leader of" in holder or "链主" in holder
    assignment = page("/id/role/" + role)
    for needed in ("/id/grain-oil-food-processing-industry", "/id/jiaozhou", "/id/yihai-kerry", "2025-01"):
        assert needed in assignment, needed
