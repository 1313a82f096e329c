"""The saved-query API: listing, typed parameters, pagination, formats, ETags, injection.

Runs against the invented test chain of test_api_project (not the articles), through Flask's
test client; test_openapi.py talks HTTP to a real server."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

import pyoxigraph as ox
import pytest

import test_api_project as project
from store_serving import SERVED, mark_known_difference, remote_dataset
from test_api_project import ID

# the web project's fixtures (built once per test process; see test_api_project.py)
client, web_config, web_dataset = project.client, project.web_config, project.web_dataset


@pytest.fixture(scope="session", params=SERVED)
def web_app(request, web_config, web_dataset):
    """The app on the built project, and on the same project pushed to Oxigraph server and to Virtuoso
    and read back through a store gateway (serve --store's dataset; tests/store_serving.py)."""
    from chainkg.web.app import create_app

    ds = web_dataset if request.param == "embedded" else remote_dataset(request.param, request, web_dataset)
    app = create_app(web_config, ds)
    app.testing = True
    return app


@pytest.fixture(autouse=True)
def _store_differences(request):
    mark_known_difference(request)

INJECTIONS = ['x" } ; DROP ALL ; #', "1 } UNION { ?s ?p ?o", "<http://evil> } ?s ?p ?o {"]
TYPED = "/api/queries/t-typed"


def rows(resp) -> list[dict]:
    assert resp.status_code == 200, resp.data[:500]
    return [{k: v["value"] for k, v in b.items()} for b in resp.get_json()["results"]["bindings"]]


def test_list_describes_every_saved_query(client):
    body = client.get("/api/queries").get_json()
    names = {q["name"]: q for q in body["queries"]}
    assert {"enterprises-by-park", "suppliers-of", "chain-coverage", "search-labels", "t-typed"} <= set(names)
    typed = {p["name"]: p for p in names["t-typed"]["parameters"]}
    assert typed["kind"] == {"name": "kind", "type": "enum", "description": "", "required": False,
                             "default": "any", "enum": ["enterprise", "any"]}
    assert typed["segment"]["type"] == "list" and typed["segment"]["items"] == "iri"
    assert typed["label"]["lang"] == "en"
    assert names["t-typed"]["url"] == TYPED and "csv" in names["t-typed"]["formats"]


def test_a_query_runs_with_defaults_and_parameters(client):
    everything = rows(client.get(TYPED + "?limit=1000"))
    one = rows(client.get(TYPED, query_string={"label": "Test Tenant 01"}))
    assert [r["tenant"] for r in one] == [ID + "t-tenant-01"]
    assert len(everything) > len(one)
    assert one[0]["minTenants"] == "0" and one[0]["day"] == "2024-04-01"


def test_a_list_parameter_takes_repeated_or_comma_separated_values(client):
    fab = rows(client.get(TYPED, query_string={"segment": ID + "t-fab", "label": "Test Leader"}))
    assert [r["tenant"] for r in fab] == [ID + "t-leader"]
    both = rows(client.get(TYPED + f"?segment={ID}t-fab&segment={ID}t-packaging&limit=1000"))
    comma = rows(client.get(TYPED + f"?segment={ID}t-fab,{ID}t-packaging&limit=1000"))
    assert both == comma and {r["segment"] for r in both} == {ID + "t-fab", ID + "t-packaging"}


def test_post_form_is_the_same_as_get(client):
    get = rows(client.get(TYPED, query_string={"label": "Test Tenant 02"}))
    post = rows(client.post(TYPED, data={"label": "Test Tenant 02"}))
    assert get == post and len(get) == 1


@pytest.mark.parametrize("name,value", [
    ("park", "not an iri"), ("minTenants", "12.5"), ("share", "1e9999999"), ("share", "NaN"), ("day", "2024-02-30"),
    ("day", "20240101"), ("year", "24"), ("kind", "other"), ("segment", "x y"), ("nosuch", "1"), ("limit", "ten"),
    ("limit", "0"), ("offset", "-1"),
])
def test_a_bad_value_is_a_400_naming_the_parameter(client, name, value):
    resp = client.get(TYPED, query_string={name: value})
    assert resp.status_code == 400
    assert resp.get_json()["parameter"] == name
    assert name in resp.get_json()["error"]


@pytest.mark.parametrize("evil", INJECTIONS)
@pytest.mark.parametrize("param", ["park", "label", "minTenants", "share", "day", "year", "kind", "segment"])
def test_injection_is_refused_or_harmless_never_wider(client, param, evil):
    """Every parameter type: a 400 naming it, or an answer no wider than the honest one."""
    baseline = len(rows(client.get(TYPED + "?limit=10000")))
    resp = client.get(TYPED, query_string={param: evil, "limit": 10000})
    if resp.status_code == 400:
        assert resp.get_json()["parameter"] == param
    else:
        assert resp.status_code == 200
        assert len(rows(resp)) < baseline  # the odd string matches nothing; it never adds rows


def test_unknown_query_is_404(client):
    assert client.get("/api/queries/no-such-query").status_code == 404


def test_pagination_fetches_one_more_row_for_next(client):
    first = client.get(TYPED, query_string={"limit": 5})
    data = first.get_json()
    assert len(data["results"]["bindings"]) == 5
    assert 'rel="next"' in first.headers["Link"] and "offset=5" in data["head"]["link"][0]
    assert f'<{data["head"]["link"][0]}>; rel="next"' in [v.strip() for v in first.headers["Link"].split(",")]
    everything = rows(client.get(TYPED + "?limit=10000"))
    pages, url = [], TYPED + "?limit=5"
    while url:
        body = client.get(url).get_json()
        pages += [{k: v["value"] for k, v in b.items()} for b in body["results"]["bindings"]]
        url = body["head"].get("link", [None])[0]
    assert pages == everything
    exact = client.get(TYPED, query_string={"limit": len(everything)}).get_json()
    assert "link" not in exact["head"]  # exactly all rows: the extra row is not there, no next page
    assert 'rel="next"' not in client.get(TYPED, query_string={"limit": len(everything)}).headers.get("Link", "")


def test_every_result_format(client):
    q = {"label": "Test Tenant 03"}
    j = client.get(TYPED, query_string=q, headers={"Accept": "application/sparql-results+json"})
    assert j.content_type == "application/sparql-results+json"
    c = client.get(TYPED, query_string={**q, "format": "csv"})
    assert c.content_type.startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(c.data.decode())))
    assert table[0]["tenant"] == ID + "t-tenant-03" and table[0]["tenantLabel"] == "Test Tenant 03"
    t = client.get(TYPED, query_string=q, headers={"Accept": "text/tab-separated-values"})
    assert t.content_type.startswith("text/tab-separated-values")
    head, first = t.data.decode().splitlines()[:2]
    assert head.split("\t")[0] == "?tenant" and first.split("\t")[0] == f"<{ID}t-tenant-03>"
    assert '"Test Tenant 03"@en' in first
    x = client.get(TYPED, query_string={**q, "format": "xml"})
    root = ET.fromstring(x.data)
    ns = {"r": "http://www.w3.org/2005/sparql-results#"}
    assert root.find("r:results/r:result/r:binding[@name='tenant']/r:uri", ns).text == ID + "t-tenant-03"
    # a strict parser (oxigraph's) reads each lossless format back to the same solutions
    for resp, fmt in ((j, ox.QueryResultsFormat.JSON), (x, ox.QueryResultsFormat.XML), (t, ox.QueryResultsFormat.TSV)):
        parsed = ox.parse_query_results(resp.data, fmt)
        assert [s["tenant"].value for s in parsed] == [ID + "t-tenant-03"]


def test_construct_answers_in_rdf_formats(client):
    ttl = client.get("/api/queries/t-graph", headers={"Accept": "text/turtle"})
    assert ttl.status_code == 200 and ttl.content_type.startswith("text/turtle")
    triples = [q.triple for q in ox.parse(ttl.data, ox.RdfFormat.TURTLE)]
    assert ox.Triple(ox.NamedNode(ID + "t-leader"), ox.NamedNode("https://w3id.org/chainkg/ontology#tenantOf"),
                     ox.NamedNode(ID + "t-park")) in triples
    jsonld = client.get("/api/queries/t-graph?format=jsonld&limit=1000")
    assert jsonld.content_type == "application/ld+json"
    assert len(list(ox.parse(jsonld.data, ox.RdfFormat.JSON_LD))) == len(triples)
    assert client.get("/api/queries/t-graph?format=csv").status_code == 400  # CSV is for solutions


def test_unacceptable_media_type_is_406(client):
    assert client.get(TYPED, headers={"Accept": "image/png"}).status_code == 406


def test_etag_per_dataset_version_and_304(client, web_dataset):
    first = client.get(TYPED, query_string={"limit": 3})
    etag = first.headers["ETag"]
    assert etag.strip('"').startswith(web_dataset.version)
    again = client.get(TYPED, query_string={"limit": 3}, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    other = client.get(TYPED, query_string={"limit": 4}, headers={"If-None-Match": etag})
    assert other.status_code == 200 and other.headers["ETag"] != etag
    csv_tag = client.get(TYPED, query_string={"limit": 3, "format": "csv"}).headers["ETag"]
    assert csv_tag != etag


def test_analyst_queries_answer_on_the_test_chain(client):
    by_park = rows(client.get("/api/queries/enterprises-by-park", query_string={"park": ID + "t-park", "limit": 100}))
    assert len(by_park) == 13 and {r["districtLabel"] for r in by_park} == {"Laoshan District"}
    suppliers = rows(client.get("/api/queries/suppliers-of", query_string={"enterprise": ID + "t-leader", "direction": "suppliers"}))
    assert {r["partner"] for r in suppliers} == {ID + "t-supplier", ID + "t-designer"}
    customers = rows(client.get("/api/queries/suppliers-of", query_string={"enterprise": ID + "t-supplier", "direction": "customers"}))
    assert [r["partner"] for r in customers] == [ID + "t-leader"]
    coverage = {r["segment"]: r for r in rows(client.get("/api/queries/chain-coverage", query_string={"chain": ID + "t-chain"}))}
    assert coverage[ID + "t-equipment"]["coverage"] == "gap" and coverage[ID + "t-packaging"]["local"] == "12"
    by_segment = rows(client.get("/api/queries/enterprises-by-segment",
                                 query_string={"chain": ID + "t-chain", "segment": [ID + "t-fab", ID + "t-materials"]}))
    assert {r["member"] for r in by_segment} == {ID + "t-leader", ID + "t-supplier"}
    by_district = rows(client.get("/api/queries/enterprises-by-district", query_string={"district": ID + "jimo-district", "lang": "zh"}))
    assert {r["enterpriseLabel"] for r in by_district} == {"测试设计公司", "测试材料公司"}
    conflicts = rows(client.get("/api/queries/conflicting-figures"))
    assert [(r["value1"], r["value2"]) for r in conflicts if r["subject"] == ID + "t-park"] == [("40", "48")]
    money = rows(client.get("/api/queries/investments-over-time", query_string={"from": "2025"}))
    assert [(r["year"], r["kind"]) for r in money if r["subject"] == ID + "t-park"] == [("2027", "target")]
    article = rows(client.get("/api/queries/statements-of-article",
                              query_string={"source": "https://w3id.org/chainkg/source/901_beta"}))
    assert {r["claim"] for r in article} == {"https://w3id.org/chainkg/claim/901-park-count"}
    found = rows(client.get("/api/queries/search-labels", query_string={"q": "链"}))
    assert {r["thing"] for r in found} >= {ID + "t-leader", ID + "t-chain"}
    background = rows(client.get("/api/queries/search-labels", query_string={"q": "qingdao", "language": "en"}))
    assert ID + "qingdao" in {r["thing"] for r in background}


def test_result_json_is_standard_sparql_json(client):
    body = client.get(TYPED, query_string={"label": "Test Tenant 04"}).get_json()
    assert body["head"]["vars"][:2] == ["tenant", "tenantLabel"]
    b = body["results"]["bindings"][0]
    assert b["tenant"] == {"type": "uri", "value": ID + "t-tenant-04"}
    assert b["tenantLabel"] == {"type": "literal", "value": "Test Tenant 04", "xml:lang": "en"}
    assert b["minTenants"]["datatype"] == "http://www.w3.org/2001/XMLSchema#integer"
    json.dumps(body)


def test_quoted_triples_serialise_in_every_format():
    """A quoted triple (RDF-star, which Oxigraph returns) is written as the standard's triple term."""
    import json as _json

    import pyoxigraph as ox

    from chainkg.web.api import Page, page_csv, page_json, page_xml

    t = ox.Triple(ox.NamedNode("http://e/a"), ox.NamedNode("http://e/b"), ox.Literal("c", language="en"))
    page = Page(form="SELECT", variables=["t"], rows=[(t,)], boolean=None)
    assert _json.loads(_json.dumps(page_json(page, None)))["results"]["bindings"][0]["t"]["type"] == "triple"
    assert "<triple><subject><uri>http://e/a</uri></subject>" in page_xml(page)
    assert "http://e/a" in page_csv(page)


# -- issue 13, item 6: paging with a total, the page size, 404s in JSON ---------------------------------------

def test_every_page_carries_the_total(client):
    everything = rows(client.get(TYPED + "?limit=10000"))
    assert len(everything) > 5
    for offset in (0, 5, len(everything) - 1, len(everything) + 3):
        resp = client.get(TYPED, query_string={"limit": 5, "offset": offset})
        assert resp.headers["X-Total-Count"] == str(len(everything))
        assert resp.get_json()["head"]["total"] == len(everything)
    for fmt in ("csv", "tsv", "xml"):
        assert client.get(TYPED, query_string={"limit": 2, "format": fmt}).headers["X-Total-Count"] == str(len(everything))
    # the JSON stays standard: a strict parser (Oxigraph's) reads it, the total in head
    ox.parse_query_results(client.get(TYPED + "?limit=2").data, ox.QueryResultsFormat.JSON)


def test_a_construct_counts_its_triples(client):
    resp = client.get("/api/queries/t-graph", query_string={"limit": 1, "format": "nt"})
    total = int(resp.headers["X-Total-Count"])
    every = client.get("/api/queries/t-graph", query_string={"limit": 10000, "format": "nt"}).data.decode()
    assert total == len([line for line in every.splitlines() if line.strip()]) and total > 1


def test_the_count_stops_at_its_time_share_and_the_page_still_answers(web_dataset):
    from chainkg.sparql.engine import evaluate_page

    # twice every quad: more rows than the count's clock check interval (2048), whatever the fixture's size
    spec = {"name": "all", "form": "SELECT", "text": "SELECT * WHERE { VALUES ?i { 1 2 } GRAPH ?g { ?s ?p ?o } }",
            "limit": 3, "offset": 0, "substitutions": []}
    counted, _ = evaluate_page(web_dataset, {**spec, "count_s": 60})
    assert counted["total"] == 2 * len(web_dataset.store) > 2048 and len(counted["rows"]) == 3
    stopped, _ = evaluate_page(web_dataset, {**spec, "count_s": 0})
    assert stopped["total"] is None and stopped["has_more"] and stopped["rows"] == counted["rows"]


def test_the_page_size_is_documented_and_settable_up_to_the_row_limit(client, web_config):
    paging = client.get("/api/queries").get_json()["paging"]
    assert paging == {"default_limit": 100, "max_limit": web_config.max_rows,
                      "total": "X-Total-Count header; head.total in JSON"}
    limit = client.get("/api/openapi.json").get_json()["paths"]["/api/queries/t-typed"]["get"]["parameters"]
    limit = next(p for p in limit if p["name"] == "limit")
    assert limit["schema"]["default"] == 100 and limit["schema"]["maximum"] == web_config.max_rows
    assert "100 unless given" in limit["description"]
    assert client.get(TYPED, query_string={"limit": web_config.max_rows}).status_code == 200
    too_many = client.get(TYPED, query_string={"limit": web_config.max_rows + 1})
    assert too_many.status_code == 400 and too_many.get_json()["parameter"] == "limit"
    assert len(client.get(TYPED).get_json()["results"]["bindings"]) == min(100, int(client.get(TYPED).headers["X-Total-Count"]))


@pytest.mark.parametrize("path, accept", [("/api/queries/no-such-query", "text/csv"), ("/api/nothing/here", "text/html"),
                                          ("/api/queries/a/b", "application/json"), ("/api/queries/no-such-query.json", None)])
def test_api_404s_are_json(client, path, accept):
    resp = client.get(path, headers={"Accept": accept} if accept else {})
    assert resp.status_code == 404 and resp.mimetype == "application/json" and "error" in resp.get_json()


@pytest.mark.parametrize("path, headers", [("/id/no-such-thing.json", {}),
                                           ("/id/no-such-thing", {"Accept": "application/json"})])
def test_linked_data_404s_in_json_when_json_is_asked_for(client, path, headers):
    resp = client.get(path, headers=headers)
    assert resp.status_code == 404 and resp.mimetype == "application/json" and resp.get_json()["error"] == "not found"
