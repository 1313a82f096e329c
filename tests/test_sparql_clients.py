"""Real SPARQL clients against the live server: SPARQLWrapper and rdflib's SPARQLStore get the
right terms back (language tags, datatypes, blank nodes, Unicode)."""

from __future__ import annotations

import rdflib
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from SPARQLWrapper import CSV, JSON, TURTLE, XML, SPARQLWrapper

TERMS = """PREFIX id: <https://w3id.org/chainkg/id/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
SELECT ?label ?n ?d ?b WHERE {
  id:qingdao rdfs:label ?label . FILTER(lang(?label) = "zh")
  BIND(42 AS ?n) BIND("2025-01-01"^^xsd:date AS ?d) BIND(BNODE() AS ?b)
}"""
XSD = "http://www.w3.org/2001/XMLSchema#"


def test_sparqlwrapper_json_and_xml(live_server):
    client = SPARQLWrapper(live_server.sparql)
    client.setQuery(TERMS)
    client.setReturnFormat(JSON)
    row = client.queryAndConvert()["results"]["bindings"][0]
    assert row["label"] == {"type": "literal", "value": "青岛市", "xml:lang": "zh"}
    assert row["n"] == {"type": "literal", "value": "42", "datatype": XSD + "integer"}
    assert row["d"]["datatype"] == XSD + "date"
    assert row["b"]["type"] == "bnode"
    client.setReturnFormat(XML)
    xml = client.queryAndConvert().toxml()
    assert 'xml:lang="zh"' in xml and "青岛市" in xml
    client.setReturnFormat(CSV)
    assert "青岛市" in client.queryAndConvert().decode()


def test_sparqlwrapper_post_ask_and_construct(live_server):
    client = SPARQLWrapper(live_server.sparql)
    client.setMethod("POST")
    client.setReturnFormat(JSON)
    client.setQuery("PREFIX id: <https://w3id.org/chainkg/id/> PREFIX ck: <https://w3id.org/chainkg/ontology#> "
                    "ASK { id:laoshan-district ck:locatedIn id:qingdao }")
    assert client.queryAndConvert()["boolean"] is True
    client.setQuery("CONSTRUCT WHERE { <https://w3id.org/chainkg/id/qingdao> <http://www.w3.org/2000/01/rdf-schema#label> ?l }")
    client.setReturnFormat(TURTLE)
    g = rdflib.Graph().parse(data=client.queryAndConvert(), format="turtle")
    assert rdflib.Literal("青岛市", lang="zh") in set(g.objects())
    client.setReturnFormat(XML)  # RDF/XML for graphs
    g = client.queryAndConvert()
    assert rdflib.Literal("青岛市", lang="zh") in set(g.objects())


def test_rdflib_sparqlstore(live_server):
    store = SPARQLStore(query_endpoint=live_server.sparql)
    graph = rdflib.Graph(store=store)
    rows = list(graph.query(TERMS))
    label, n, d, b = rows[0]
    assert label == rdflib.Literal("青岛市", lang="zh")
    assert n == rdflib.Literal(42) and n.datatype == rdflib.XSD.integer
    assert d.datatype == rdflib.XSD.date
    assert isinstance(b, rdflib.BNode)
    qingdao = rdflib.URIRef("https://w3id.org/chainkg/id/qingdao")
    assert rdflib.Literal("青岛市", lang="zh") in set(graph.objects(qingdao, rdflib.RDFS.label))
    laoshan = rdflib.URIRef("https://w3id.org/chainkg/id/laoshan-district")
    assert (laoshan, rdflib.URIRef("https://w3id.org/chainkg/ontology#locatedIn"), qingdao) in graph
