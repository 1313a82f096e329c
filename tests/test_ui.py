"""Pages for people: the workbench, a page per saved query, the chain map (Flask test client)."""

from __future__ import annotations

import html
import json
import os
import re
from urllib.parse import parse_qs, urlparse

import pytest

import test_api_project as project
from chainkg.web import chainmap
from test_api_project import ID

# the web project's fixtures (built once per test process; see test_api_project.py)
client, web_app, web_config, web_dataset = project.client, project.web_app, project.web_config, project.web_dataset


def page(client, url: str, status: int = 200) -> str:
    resp = client.get(url)
    assert resp.status_code == status, resp.data[:500]
    assert resp.content_type.startswith("text/html")
    return resp.data.decode()


def test_workbench_has_editor_examples_prefixes_and_a_fallback(client):
    text = page(client, "/")
    assert '<form id="sparql-form" method="post" action="/sparql">' in text  # works without the script
    assert '<textarea id="query" name="query"' in text
    assert "PREFIX ck: &lt;https://w3id.org/chainkg/ontology#&gt;" in text  # prefixes pre-declared
    assert "workbench.js" in text and "workbench.css" in text and "cdn" not in text.lower()
    examples = json.loads(re.search(r'<script type="application/json" id="examples-data">(.*?)</script>', text, re.S).group(1))
    assert examples["enterprises-by-park"]["api"] == "/api/queries/enterprises-by-park"
    assert '<option value="enterprises-by-park"' in text


def test_workbench_reads_the_query_from_the_url(client):
    text = page(client, "/?query=" + "SELECT%20%3Fx%20%7B%20%3Fx%20a%20%3Cjs%3E%20%7D%20%23%20%3C/textarea%3E")
    assert "SELECT ?x { ?x a &lt;js&gt; } # &lt;/textarea&gt;</textarea>" in text


def test_query_page_shows_form_results_links_downloads_and_sparql(client):
    text = page(client, f"/queries/enterprises-by-park?park={ID}t-park&limit=5")
    assert "<h1 id=\"query-title\">Enterprises by park</h1>" in text
    assert 'name="park"' in text and '<select id="p-lang" name="lang">' in text
    assert '<a href="/id/t-park" title="https://w3id.org/chainkg/id/t-park">Test Park</a>' in text
    assert '<a href="/id/t-leader"' in text
    downloads = dict(re.findall(r'data-format="(\w+)" href="([^"]+)"', text))
    csv_url = html.unescape(downloads["csv"])
    assert csv_url.startswith("/api/queries/enterprises-by-park?") and parse_qs(urlparse(csv_url).query)["format"] == ["csv"]
    resp = client.get(csv_url)
    assert resp.status_code == 200 and resp.data.decode().count("\n") == 14  # header + 13 tenants, all pages
    link = html.unescape(re.search(r'href="(/\?[^"]*query=[^"]+)"', text).group(1))
    assert "SELECT ?park" in parse_qs(urlparse(link).query)["query"][0]
    assert '<pre class="sparql" data-highlight>' in text and "ck:tenantOf" in text
    assert 'rel="next"' in text  # 13 rows, 5 a page


def test_query_page_refuses_a_bad_value_naming_it(client):
    text = page(client, "/queries/enterprises-by-park?park=not+an+iri", status=400)
    assert "parameter &#39;park&#39;" in text and 'role="alert"' in text


def test_query_page_language_switch_is_the_label_language(client):
    text = page(client, f"/queries/enterprises-by-park?park={ID}t-park&lang=zh")
    assert ">测试园区</a>" in text and ">崂山区</a>" in text


def test_query_index_and_twins(client):
    text = page(client, "/queries")
    assert 'href="/queries/suppliers-of?lang=en"' in text
    resp = client.get("/queries/suppliers-of.csv?direction=suppliers")
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/api/queries/suppliers-of?")
    assert page(client, "/queries/no-such-query", status=404)


def test_chain_map_draws_the_chain_from_the_graph(client):
    if not chainmap.dot_available():
        message = "Graphviz `dot` is missing: run scripts/install-system-deps.sh (make setup does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    text = page(client, f"/chain-map?chain={ID}t-chain")
    figure = text[text.index('<figure class="chain-map" id="chain-map">'):]  # (the legend's swatches are small SVGs too)
    svg = figure[figure.index("<svg"): figure.index("</svg>")]
    for slug in ("t-design", "t-fab", "t-packaging", "t-materials", "t-leader", "t-tenant-01", "t-park"):
        assert f'href="/id/{slug}"' in svg  # every node links to its entity page
    assert "★ Test Leader" in svg and "Test Park" in svg and "supplies" in svg
    assert "upstream" in svg and "downstream" in svg
    resp = client.get(f"/chain-map.svg?chain={ID}t-chain")
    assert resp.content_type.startswith("image/svg+xml") and b"<svg" in resp.data


DOT_STRINGS = {"supplies": "supplies", "chain_wide": "whole chain", "products": "products", "none_recorded": "none",
               "focus": "focus"}


def _dot_box(dot: str, name_part: str) -> str:
    """The lines of the first Graphviz cluster whose name contains name_part."""
    lines = dot.splitlines()
    start = next(i for i, x in enumerate(lines) if x.startswith("  subgraph cluster") and name_part in x.split("{")[0])
    return "\n".join(lines[start: next(i for i in range(start, len(lines)) if lines[i] == "  }") + 1])


def test_chain_map_lanes_are_clusters_of_their_members(client):
    """Each segment is a Graphviz cluster holding its members; lanes follow ck:precedes; supply arrows are solid."""
    data = client.get("/chain-map.json?chain=t-chain").get_json()
    dot = chainmap.to_dot(data, DOT_STRINGS)
    fab, packaging = _dot_box(dot, "t_fab"), _dot_box(dot, "t_packaging")
    assert "/id/t-fab" in fab and 'URL="/id/t-leader"' in fab and "★ Test Leader" in fab  # the leader inside its segment
    assert 'URL="/id/t-tenant-01"' in packaging and "Test Park" in packaging  # the park line inside the node
    assert 'URL="/id/t-leader"' not in packaging
    lane = {s["iri"]: s["lane"] for s in data["segments"]}
    assert lane[ID + "t-materials"] == lane[ID + "t-design"] < lane[ID + "t-fab"] < lane[ID + "t-packaging"]
    supply = [x for x in dot.splitlines() if 'label="supplies"' in x]
    assert len(supply) == 2 and not any("dashed" in x or "invis" in x for x in supply)
    assert "position not stated" not in dot


def test_chain_map_json_twin(client):
    data = client.get("/chain-map.json?chain=t-chain").get_json()
    assert [s["label"] for s in data["segments"]][-1] == "test packaging"  # upstream first, downstream last
    assert {(e["from"], e["to"]) for e in data["order"]} == {
        (ID + "t-design", ID + "t-fab"), (ID + "t-materials", ID + "t-fab"), (ID + "t-fab", ID + "t-packaging")}
    leader = next(m for m in data["members"] if m["iri"] == ID + "t-leader")
    assert leader["leader"] and leader["park"] == ID + "t-park" and leader["url"] == "/id/t-leader"
    assert {(e["from"], e["to"]) for e in data["supplies"]} == {(ID + "t-supplier", ID + "t-leader"), (ID + "t-designer", ID + "t-leader")}
    assert client.get("/chain-map.json?chain=no-such-chain").status_code == 404


def test_chain_map_shows_the_leading_enterprise_of_the_chain(client):
    """ck:leadingEnterpriseOf the chain, in no segment: starred in a "whole chain" box, linked, in every twin."""
    data = client.get("/chain-map.json?chain=t-chain").get_json()
    firm = next(m for m in data["members"] if m["iri"] == ID + "t-lead-firm")
    assert firm["leading"] and not firm["leader"] and firm["segments"] == [] and ID + "t-chain" in firm["leads"]
    assert page(client, "/chain-map?chain=t-chain").count('<a href="/id/t-lead-firm">★ Test Leading Firm</a>') == 1  # lists
    box = _dot_box(chainmap.to_dot(data, DOT_STRINGS), "cluster_chain")
    assert "/id/t-lead-firm" in box and "★ Test Leading Firm" in box and "whole chain" in box
    if chainmap.dot_available():
        svg = client.get("/chain-map.svg?chain=t-chain").data.decode()
        assert 'href="/id/t-lead-firm"' in svg and "★ Test Leading Firm" in svg


def test_chain_map_without_graphviz_shows_lists(client, monkeypatch, web_app):
    monkeypatch.setattr(chainmap.shutil, "which", lambda name: None)
    web_app.extensions.pop("chainkg.chain_maps", None)
    try:
        text = page(client, "/chain-map?chain=t-chain&lang=zh")
        assert 'id="chain-map"' not in text and "<g id=" not in text and "Graphviz" in text
        assert '<a href="/id/t-leader">★ 测试链主</a>' in text
    finally:
        web_app.extensions.pop("chainkg.chain_maps", None)
