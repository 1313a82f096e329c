"""The W3C SPARQL 1.1 Protocol (34) and Service Description (3) tests, read from their manifests
and driven over real HTTP against `chainkg serve`.

The manifests live in ../shared/w3c (or $CHAINKG_W3C). The six query_dataset_* tests run against
a second server that serves data1..3.nt as named graphs (`chainkg serve --data FILE=GRAPH`). This
endpoint is read-only: the 14 update tests must get a 4xx refusal (403), never a 5xx, as the
suite's README allows for a read-only service."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import rdflib
import requests
from rdflib import RDF, Namespace
from rdflib.collection import Collection

from conftest import missing_input
from live_server import start_server

ROOT = Path(__file__).resolve().parents[1]
W3C = Path(os.environ.get("CHAINKG_W3C") or ROOT.parent / "shared" / "w3c")
if not (W3C / "protocol" / "manifest.ttl").exists():
    missing_input(f"W3C SPARQL test manifests not found in {W3C} (set CHAINKG_W3C)")

MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = Namespace("http://www.w3.org/2011/http#")
CNT = Namespace("http://www.w3.org/2011/content#")
UT = Namespace("http://www.w3.org/2009/sparql/tests/test-update#")
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
RESULT_TYPES = ("application/sparql-results+json", "application/sparql-results+xml", "text/csv", "text/tab-separated-values")
RDF_TYPES = {"text/turtle": "turtle", "application/n-triples": "nt", "application/rdf+xml": "xml",
             "application/ld+json": "json-ld", "application/trig": "trig", "application/n-quads": "nquads"}


def load_manifest(path: Path) -> tuple[rdflib.Graph, list]:
    g = rdflib.Graph().parse(path, format="turtle", publicID=path.as_uri())
    manifest = next(g.subjects(RDF.type, MF.Manifest))
    return g, list(Collection(g, g.value(manifest, MF.entries)))


PROTOCOL, PROTOCOL_TESTS = load_manifest(W3C / "protocol" / "manifest.ttl")
SD_MANIFEST, SD_TESTS = load_manifest(W3C / "service-description" / "manifest.ttl")


def graph_data(test) -> list[str]:
    """`FILE=GRAPH-IRI` for each ut:graphData of a test."""
    out = []
    for gd in PROTOCOL.objects(test, UT.graphData):
        file = Path(str(PROTOCOL.value(gd, UT.graph)).removeprefix("file://"))
        out.append(f"{file}={PROTOCOL.value(gd, rdflib.RDFS.label)}")
    return out


@pytest.fixture(scope="module")
def w3c_server(tmp_path_factory):
    """A second server that serves the suite's data files as named graphs."""
    files = sorted({spec for t in PROTOCOL_TESTS for spec in graph_data(t)})
    assert len(files) == 3
    args = [a for spec in files for a in ("--data", spec)] + ["--workers", "1", "--threads", "4"]
    server = start_server(args, tmp_path_factory.mktemp("w3c") / "server.log")
    yield server
    server.stop()


def requests_of(test) -> list:
    action = PROTOCOL.value(test, MF.action)
    return list(Collection(PROTOCOL, PROTOCOL.value(action, HT.requests)))


def send(base: str, req) -> requests.Response:
    path = str(PROTOCOL.value(req, HT.absolutePath))
    assert path.startswith("/sparql/")
    url = base + "/sparql" + path[len("/sparql"):]
    headers = requests.structures.CaseInsensitiveDict()
    header_list = PROTOCOL.value(req, HT.headers)
    if header_list is not None:
        for h in Collection(PROTOCOL, header_list):
            headers[str(PROTOCOL.value(h, HT.fieldName))] = str(PROTOCOL.value(h, HT.fieldValue))
    body = PROTOCOL.value(req, HT.body)
    data = None
    if body is not None:
        encoding = str(PROTOCOL.value(body, CNT.characterEncoding) or "UTF-8")
        data = str(PROTOCOL.value(body, CNT.chars)).encode(encoding)
        headers.setdefault("Content-Type", "")  # the suite means "no media type" when it gives none
    method = str(PROTOCOL.value(req, HT.methodName))
    return requests.request(method, url, data=data, headers=headers, timeout=30, allow_redirects=False)


def check_response(r: requests.Response, resp, name: str) -> None:
    classes = {str(c).rsplit("StatusCode", 1)[1][0] for c in PROTOCOL.objects(resp, MF.expectedStatus)}
    assert str(r.status_code)[0] in classes, f"{name}: {r.status_code} not in {classes}xx: {r.text[:300]}"
    media = r.headers.get("Content-Type", "").split(";")[0].strip()
    expected_format = PROTOCOL.value(resp, MF.expectedFormat)
    if expected_format is not None:
        if str(expected_format) == "boolean":
            assert media in RESULT_TYPES[:2], f"{name}: {media}"
        elif str(expected_format) == "tabular":
            assert media in RESULT_TYPES, f"{name}: {media}"
        else:
            assert media in RDF_TYPES, f"{name}: {media}"
            rdflib.Dataset().parse(data=r.content, format=RDF_TYPES[media])
    expected_boolean = PROTOCOL.value(resp, MF.expectedBoolean)
    if expected_boolean is not None:
        if media == "application/sparql-results+json":
            value = json.loads(r.text)["boolean"]
        else:
            value = "<boolean>true</boolean>" in r.text
        assert value == expected_boolean.toPython(), f"{name}: {r.text}"


def test_the_suite_is_complete():
    assert len(PROTOCOL_TESTS) == 34 and len(SD_TESTS) == 3


@pytest.mark.parametrize("test", PROTOCOL_TESTS, ids=lambda t: str(t).rsplit("#", 1)[1])
def test_protocol(test, live_server, w3c_server):
    name = str(test).rsplit("#", 1)[1]
    server = w3c_server if graph_data(test) else live_server
    reqs = requests_of(test)
    if "update" in name:
        r = send(server.url, reqs[0])
        assert 400 <= r.status_code < 500, f"{name}: a read-only endpoint refuses updates with 4xx, got {r.status_code}"
        if not name.startswith("bad_"):
            assert r.status_code == 403 and "read-only" in r.text
        return
    for req in reqs:
        check_response(send(server.url, req), PROTOCOL.value(req, HT.resp), name)


# -- service description --------------------------------------------------------------------------
SD_SHAPES = """
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix sd: <http://www.w3.org/ns/sparql-service-description#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix void: <http://rdfs.org/ns/void#> .
@prefix : <urn:sd-shapes#> .
:Service a sh:NodeShape ; sh:targetClass sd:Service ;
  sh:property [ sh:path sd:endpoint ; sh:minCount 1 ; sh:nodeKind sh:IRI ] ;
  sh:property [ sh:path sd:supportedLanguage ; sh:minCount 1 ;
                sh:in ( sd:SPARQL10Query sd:SPARQL11Query sd:SPARQL11Update ) ] ;
  sh:property [ sh:path sd:resultFormat ; sh:nodeKind sh:IRI ] ;
  sh:property [ sh:path sd:feature ; sh:nodeKind sh:IRI ] ;
  sh:property [ sh:path sd:defaultEntailmentRegime ; sh:nodeKind sh:IRI ] ;
  sh:property [ sh:path sd:defaultDataset ; sh:maxCount 1 ; sh:class sd:Dataset ] .
:Dataset a sh:NodeShape ; sh:targetClass sd:Dataset ;
  sh:property [ sh:path sd:defaultGraph ; sh:maxCount 1 ; sh:class sd:Graph ] ;
  sh:property [ sh:path sd:namedGraph ; sh:class sd:NamedGraph ] .
:NamedGraph a sh:NodeShape ; sh:targetClass sd:NamedGraph ;
  sh:property [ sh:path sd:name ; sh:minCount 1 ; sh:maxCount 1 ; sh:nodeKind sh:IRI ] ;
  sh:property [ sh:path sd:graph ; sh:maxCount 1 ; sh:class sd:Graph ] .
:Graph a sh:NodeShape ; sh:targetClass sd:Graph ;
  sh:property [ sh:path void:triples ; sh:maxCount 1 ; sh:datatype xsd:integer ] .
"""


def fetch_description(server, accept="text/turtle") -> rdflib.Graph:
    r = requests.get(server.sparql, headers={"Accept": accept}, timeout=30)
    assert r.status_code == 200
    media = r.headers["Content-Type"].split(";")[0]
    return rdflib.Graph().parse(data=r.content, format=RDF_TYPES[media])


@pytest.mark.parametrize("test", SD_TESTS, ids=lambda t: str(t).rsplit("#", 1)[1])
def test_service_description(test, live_server, w3c_server):
    name = str(test).rsplit("#", 1)[1]
    for server in (live_server, w3c_server):
        if name == "returns-rdf":
            for accept in RDF_TYPES:
                assert len(fetch_description(server, accept)) > 10
        elif name == "has-endpoint-triple":
            g = fetch_description(server)
            assert (None, SD.endpoint, rdflib.URIRef(server.sparql)) in g
        elif name == "conforms-to-schema":
            from pyshacl import validate

            g = fetch_description(server)
            conforms, _, report = validate(g, shacl_graph=rdflib.Graph().parse(data=SD_SHAPES, format="turtle"))
            assert conforms, report
            assert (None, RDF.type, SD.Service) in g
        else:
            pytest.fail(f"unknown service description test {name}")
