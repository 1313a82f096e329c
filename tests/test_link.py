"""Entity linking (issue #10 items 2 and 3): `chainkg link --with NAME`, the review file, the
reviewed links in triples/links/, the GB/T 2260 codes and hierarchy they bring to every district,
county-level city, city and province of ours, and where our geography disagrees."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chainkg.build.pipeline import BuildError, build
from chainkg.config import Config
from chainkg.integrate import link
from chainkg.integrate.imports import ImportProblem
from test_imports import GB, gb_slice, project

ROOT = Path(__file__).resolve().parents[1]
CHAINKG = str(Path(sys.executable).parent / "chainkg")
ID = "https://w3id.org/chainkg/id/"
PREFIXES = """PREFIX ck: <https://w3id.org/chainkg/ontology#> PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> """


@pytest.fixture(scope="module")
def example_city(tmp_path_factory):
    """The Example City fixture project (FIXTURE data, tests/fixtures/second_city), built."""
    root = tmp_path_factory.mktemp("example-city")
    shutil.copytree(ROOT / "tests/fixtures/second_city/triples", root / "triples")
    for sub in ("ontology", "shapes"):
        shutil.copytree(ROOT / sub, root / sub)
    (root / "queries").mkdir()
    return build(Config(root=root)).dataset


def test_precision_and_recall_on_the_labelled_pairs(kg, example_city):
    pairs = link.read_labelled(ROOT / "tests/fixtures/link/labelled.csv")
    assert len(pairs) >= 50
    assert sum(p["match"] == "0" and ("group" in p["note"] or "branch" in p["note"]) for p in pairs) >= 5
    lookup = {**link.things(kg, "https://w3id.org/chainkg/"), **link.things(example_city, "https://example.org/")}
    r = link.evaluate(pairs, lookup)
    print(f"\nlinking: {r['pairs']} pairs, precision {r['precision']:.3f}, recall {r['recall']:.3f}, wrong {r['wrong']}")
    assert r["precision"] >= 0.95 and r["recall"] >= 0.9, r["wrong"]


def test_a_group_is_never_linked_to_its_qingdao_subsidiary(kg):
    mine = link.ours(kg)
    for group, unit in (("huike-group", "huike-microelectronics"), ("sky-nantong-semiconductor-equipment",
                                                                     "sky-nantong-qingdao-branch"), ("hisense", "hisense-visual")):
        c = link.score(mine[ID + group], mine[ID + unit])
        assert c is None or c.decision != "accept", (group, unit, c.score, c.reasons)


def test_link_proposes_every_division_of_ours_with_reasons(kg):
    candidates = link.propose(kg, "gb2260")
    accepted = {c.ours.iri: c for c in candidates if c.decision == "accept"}
    assert accepted[ID + "huangdao-district"].theirs.iri == GB + "370211"
    assert accepted[ID + "qingdao"].theirs.iri == GB + "370200"
    assert "same name '黄岛区'" in "; ".join(accepted[ID + "huangdao-district"].reasons)
    assert ID + "west-coast-new-area" not in accepted  # a zone, not an administrative division
    text = link.review_csv(candidates)
    header = text.splitlines()[0].split(",")
    assert header == link.COLUMNS


PLACES = PREFIXES + """SELECT DISTINCT ?place ?class WHERE {
    GRAPH ?g { ?place a ?class } VALUES ?class { ck:District ck:City ck:Province }
    FILTER(STRSTARTS(STR(?place), "https://w3id.org/chainkg/id/")) }"""


def test_every_district_city_and_province_has_its_official_code_and_place_in_the_hierarchy(kg):
    places = kg.select(PLACES)
    assert len({r["place"] for r in places}) >= 20
    rows = {r["place"]: r for r in kg.select(PREFIXES + """
        SELECT ?place ?code ?top WHERE {
          ?place skos:exactMatch ?div . ?div skos:notation ?code .
          OPTIONAL { ?div ck:locatedIn ?top . ?top skos:notation ?topcode FILTER(STRENDS(?topcode, "0000")) }
        }""")}
    for r in places:
        assert r["place"] in rows, f"{r['place']} has no GB/T 2260 code"
        assert len(rows[r["place"]]["code"]) == 6
        if r["class"].endswith("District"):
            assert rows[r["place"]].get("top"), f"{r['place']}: no province above it"
    assert rows[ID + "laoshan-district"]["code"] == "370212"  # from the import, not from here: see labelled.csv
    assert rows[ID + "laoshan-district"]["top"] == GB + "370000"


def test_our_geography_agrees_with_the_import_today(kg, config):
    from chainkg.integrate.link import disagreements

    assert disagreements(kg) == []


def _links_project(tmp_path, background_edit=None, links=None):
    config = project(tmp_path, gb_slice())
    if background_edit:
        bg = config.root / "triples" / "background.trig"
        bg.write_text(background_edit(bg.read_text(encoding="utf-8")), encoding="utf-8")
    (config.root / "triples" / "links").mkdir()
    (config.root / "triples" / "links" / "demo.ttl").write_text(links or """
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
<https://w3id.org/chainkg/id/qingdao> skos:exactMatch <https://w3id.org/chainkg/ext/gb2260/370200> .
<https://w3id.org/chainkg/id/laixi> skos:exactMatch <https://w3id.org/chainkg/ext/gb2260/370285> .
<https://w3id.org/chainkg/id/shandong> skos:exactMatch <https://w3id.org/chainkg/ext/gb2260/370000> .
""", encoding="utf-8")
    return config


def test_where_our_background_disagrees_the_build_reports_it(tmp_path):
    # move Laixi out of Qingdao and call it a city: both disagree with GB/T 2260
    def edit(text):
        return text.replace("id:laixi a ck:District", "id:laixi a ck:City").replace(
            '"Laixi"@en ;\n        skos:prefLabel "莱西市"@zh ;\n        ck:locatedIn id:qingdao',
            '"Laixi"@en ;\n        skos:prefLabel "莱西市"@zh ;\n        ck:locatedIn id:shandong')

    config = _links_project(tmp_path, edit)
    text = (config.root / "triples" / "background.trig").read_text(encoding="utf-8")
    assert "id:laixi a ck:City" in text and "ck:locatedIn id:shandong" in text.split("id:laixi")[1].split(".\n")[0]
    result = build(config)
    lines = [w.format() for w in result.warnings if "geography disagrees" in w.format()]
    assert any("<https://w3id.org/chainkg/id/laixi> is a <https://w3id.org/chainkg/ontology#City>" in x for x in lines), lines
    # and the correct background (the repository's) gives no disagreement
    assert not [w for w in build(_links_project(tmp_path / "ok")).warnings if "geography disagrees" in w.format()]


def test_a_links_file_with_an_unknown_iri_stops_the_build_and_the_server_keeps_the_last_good(tmp_path):
    config = _links_project(tmp_path)
    good = build(config).dataset
    assert good.count("https://w3id.org/chainkg/graph/links/demo") == 3
    (config.root / "triples" / "links" / "demo.ttl").write_text("""
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
<https://w3id.org/chainkg/id/qingdao> skos:exactMatch <https://w3id.org/chainkg/ext/gb2260/999999> .
""", encoding="utf-8")
    with pytest.raises(BuildError, match=r"demo\.ttl:3: unknown IRI <https://w3id.org/chainkg/ext/gb2260/999999>: not a thing of import demo"):
        build(config)
    stale = build(config, fallback=True)
    assert stale.stale and stale.dataset.version == good.version


def test_accept_writes_links_with_provenance_and_refuses_unknown_iris(kg, tmp_path):
    review = tmp_path / "review.csv"
    candidates = [c for c in link.propose(kg, "gb2260") if c.ours.iri in (ID + "laoshan-district", ID + "qingdao")]
    review.write_text(link.review_csv(candidates), encoding="utf-8")
    out = tmp_path / "gb2260.ttl"
    assert link.accept(kg, "gb2260", review, out) == 2
    text = out.read_text(encoding="utf-8")
    assert "<https://w3id.org/chainkg/id/laoshan-district> skos:exactMatch <https://w3id.org/chainkg/ext/gb2260/370212>" in text
    assert "sssom:confidence" in text and "sssom:mapping_date" in text and "semapv:LexicalMatching" in text
    rows = list(csv.DictReader(review.open(encoding="utf-8")))
    rows[0]["ours"] = ID + "no-such-thing"
    with review.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=link.COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    with pytest.raises(ImportProblem, match=r"review\.csv:2: unknown IRI <https://w3id.org/chainkg/id/no-such-thing>: not a thing of our graph"):
        link.accept(kg, "gb2260", review, out)


def test_cli_link_writes_a_review_file(config, kg, tmp_path):
    review = tmp_path / "review.csv"
    out = subprocess.run([CHAINKG, "--build-dir", str(config.build_dir), "link", "--with", "gb2260", "--review", str(review)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "23 accept (skos:exactMatch)" in out.stdout
    assert review.read_text(encoding="utf-8").startswith("decision,score,predicate,ours,")
    bad = subprocess.run([CHAINKG, "--build-dir", str(config.build_dir), "link", "--with", "nothing"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1 and bad.stderr.startswith("error: graph https://w3id.org/chainkg/graph/ext/nothing holds no")


def test_the_void_lists_the_import_and_the_linkset(kg):
    from chainkg.web.void import void_triples

    triples = {(t.subject.value, t.predicate.value, t.object.value) for t in
               void_triples(kg, "https://w3id.org/chainkg/", "http://127.0.0.1/", [])}
    ext, links = "https://w3id.org/chainkg/graph/ext/gb2260", "https://w3id.org/chainkg/graph/links/gb2260"
    void = "http://rdfs.org/ns/void#"
    assert (ext, "http://purl.org/dc/terms/license", "http://spdx.org/licenses/BSD-2-Clause") in triples
    assert not [t for t in triples if t[0] == ext and t[1].endswith("license") and "creativecommons" in t[2]]
    assert (ext, "http://purl.org/pav/retrievedFrom", "imports/gb2260/gb2260-201904.nt") in triples
    assert (links, "http://www.w3.org/1999/02/22-rdf-syntax-ns#type", void + "Linkset") in triples
    assert (links, void + "objectsTarget", ext) in triples
    assert [t[2] for t in triples if t[0] == links and t[1] == void + "triples"] == ["23"]
