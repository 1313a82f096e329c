"""Nothing enters the graph that its source does not say: every evidence quote is found
verbatim in the article its claim cites, and every asserted triple sits in a claim."""

from __future__ import annotations

import re

import pytest

from chainkg.build.load import BACKGROUND_GRAPH, CLAIM_NS, DERIVED_GRAPHS, ONTOLOGY_GRAPH, PROVENANCE_GRAPH, is_derived_graph
from conftest import missing_input

CLAIMS = """
PREFIX ck: <https://w3id.org/chainkg/ontology#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX dcterms: <http://purl.org/dc/terms/>
SELECT ?claim ?source ?file ?quote WHERE {
  GRAPH <https://w3id.org/chainkg/graph/provenance> {
    ?claim a ck:Claim ; prov:wasDerivedFrom ?source ; ck:evidence ?quote .
    OPTIONAL { ?source dcterms:identifier ?file }
  }
}"""


def normalise(text: str) -> str:
    """Runs of whitespace are the only thing normalised."""
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="module")
def articles(config):
    folder = config.sources
    if not folder.is_dir():
        missing_input(f"source articles not found in {folder} (set CHAINKG_SOURCES); the evidence check needs them")
    return {p.name: normalise(p.read_text(encoding="utf-8")) for p in folder.glob("*.txt")}


def test_every_quote_is_verbatim_in_its_article(kg, articles):
    rows = kg.select(CLAIMS)
    missing = []
    for r in rows:
        file = r.get("file")
        if file is None:
            missing.append(f"{r['claim']}: source {r['source']} has no dcterms:identifier")
            continue
        if file not in articles:
            missing.append(f"{r['claim']}: article {file} not in the sources folder")
            continue
        if normalise(r["quote"]) not in articles[file]:
            missing.append(f"{r['claim']}: quote not found in {file}: {r['quote']!r}")
    assert not missing, f"{len(missing)} quote(s) not found:\n" + "\n".join(missing)


def test_related_news_of_article_000_is_never_cited(kg, articles):
    # everything from 相关推荐 on in article 000 is unrelated page content
    text = articles.get("000_dbc5086fd4006f11.txt")
    if text is None:
        missing_input("article 000 (000_dbc5086fd4006f11.txt) not found in the sources folder")
    tail = text[text.index("相关推荐"):]
    for r in kg.select(CLAIMS):
        if r.get("file") == "000_dbc5086fd4006f11.txt":
            q = normalise(r["quote"])
            assert q in text[: text.index("相关推荐")] or q not in tail, r["claim"]


def test_every_asserted_graph_is_a_claim_or_a_known_graph(kg):
    known = {ONTOLOGY_GRAPH, PROVENANCE_GRAPH, BACKGROUND_GRAPH, *DERIVED_GRAPHS}  # derived: built by reasoning
    described = {r["claim"] for r in kg.select(CLAIMS)}
    imported = ("https://w3id.org/chainkg/graph/ext/", "https://w3id.org/chainkg/graph/links/")
    for g in kg.graph_names():
        if g in known or is_derived_graph(g):  # a derivation group's graph (derivation/...) is built too
            continue
        if g.startswith(imported):  # imports and reviewed links: described in graph/provenance, not claims
            assert bool(kg.query(f"ASK {{ GRAPH <{PROVENANCE_GRAPH}> {{ <{g}> ?p ?o }} }}")), f"{g} is not described"
            continue
        assert g.startswith(CLAIM_NS), f"unexpected graph {g}"
        assert g in described, f"claim graph {g} has no source and quote"


def test_every_claim_cites_an_article_in_its_language(kg):
    rows = kg.select("""
        PREFIX ck: <https://w3id.org/chainkg/ontology#>
        PREFIX prov: <http://www.w3.org/ns/prov#>
        PREFIX dcterms: <http://purl.org/dc/terms/>
        SELECT ?claim ?lang ?qlang WHERE {
          ?claim a ck:Claim ; prov:wasDerivedFrom ?s ; ck:evidence ?q .
          ?s dcterms:language ?language . BIND(LANG(?q) AS ?qlang)
          BIND(STRAFTER(STR(?language), "http://id.loc.gov/vocabulary/iso639-1/") AS ?lang)
        }""")
    wrong = [r for r in rows if r["qlang"] != r["lang"]]
    assert not wrong, wrong[:5]


# issue #12 item 8: what an annotator says of the article (未给年份, 原文未写明…, 非仅7月, "the article names no…")
# goes in skos:editorialNote, not inside the names, descriptions and notes that read as the claims' data
# (the ontology's own terms may name such a case: ck:UnspecifiedGrowth is 同比增长（原文未说明指标）)
ANNOTATOR_GLOSS = re.compile(r"[（(][^）)]*(原文|文章|未给|未写明|未说明|非仅|the article|not stated)[^）)]*[）)]|；文章|; the article", re.I)
TEXTS = """
PREFIX ck: <https://w3id.org/chainkg/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX dcterms: <http://purl.org/dc/terms/>
SELECT ?g ?s ?p ?text WHERE {
  VALUES ?p { rdfs:label skos:prefLabel skos:altLabel dcterms:description rdfs:comment ck:note ck:originalWording }
  GRAPH ?g { ?s ?p ?text }
  FILTER (isLiteral(?text) && STRSTARTS(STR(?g), "https://w3id.org/chainkg/claim/"))
}"""


def test_annotator_glosses_are_editorial_notes_not_data(kg):
    rows = kg.select(TEXTS)
    assert len(rows) > 1000, len(rows)  # the query reads the claims' names and notes
    glossed = [(r["g"], r["s"], r["p"], r["text"]) for r in rows if ANNOTATOR_GLOSS.search(r["text"])]
    assert not glossed, "an annotator's words inside the data (move them to skos:editorialNote):\n" + "\n".join(map(str, glossed[:10]))
