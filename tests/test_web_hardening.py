"""Issue #14 against the web pages and routes: bad input never answers 500, a 404 costs
milliseconds, the Host header is never reflected and grows no cache, every HTML response carries
a Content-Security-Policy and every response nosniff, a referrer policy and the licence link.

The HTTP tests talk to the real server (`chainkg serve`, gunicorn) of the web test project
(test_api_project.py: a small chain, the repository's saved queries); the timing and cache tests
run the app in process on the repository's graph (`kg`), where the old scan took seconds.
"""

from __future__ import annotations

import re
import time
from urllib.parse import unquote

import pyoxigraph as ox
import pytest
import requests

import test_api_project as project
from chainkg.web import pages
from chainkg.web.app import create_app

web_config, web_dataset, web_server = project.web_config, project.web_dataset, project.web_server
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
EVIL = "evil.example"


def get(url: str, **kw) -> requests.Response:
    return requests.get(url, timeout=30, allow_redirects=False, **kw)


# -- item 9: bad input answers 404 or 400, never 500 ------------------------------------------------

BAD_NAMES = ["a%20b", "a%22b", "a%00b", "a%ffb", "a%3Cb%3E", "a%5Cb", "a%7Bb%7D", "%60x%60", "a%0D%0Ab",
             "%ed%a0%80", "x" * 3000, "%22%7D%20SERVICE%20%3Chttp://127.0.0.1:1/%3E%20%7B%7D%20%23"]


@pytest.mark.parametrize("kind", ["id", "source", "claim", "graph"])
@pytest.mark.parametrize("name", BAD_NAMES, ids=lambda n: n[:24])
def test_names_that_are_not_iris_are_404_not_500(web_server, kind, name):
    for accept in (BROWSER, "text/turtle", "application/json"):
        r = get(f"{web_server}/{kind}/{name}", headers={"Accept": accept})
        assert r.status_code == 404, (kind, name, accept, r.status_code, r.text[:300])
    for ext in ("json", "ttl", "html"):
        r = get(f"{web_server}/{kind}/{name}.{ext}")
        assert r.status_code == 404, (kind, name, ext, r.status_code)


def test_unknown_things_answer_404_in_the_format_asked_for(web_server):
    r = get(web_server + "/id/no-such-thing.json", headers={"Accept": BROWSER})
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("application/json")
    assert r.json()["error"] == "not found" and r.json()["iri"] == "https://w3id.org/chainkg/id/no-such-thing"
    for ext in ("ttl", "nt", "rdf", "jsonld", "trig", "nq"):
        r = get(f"{web_server}/id/no-such-thing.{ext}", headers={"Accept": BROWSER})
        assert r.status_code == 404 and r.headers["Content-Type"].startswith("text/plain"), ext
        assert "no-such-thing" in r.text
    r = get(web_server + "/id/no-such-thing.html", headers={"Accept": "text/turtle"})
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("text/html")
    r = get(web_server + "/id/t-prak.json")
    assert "https://w3id.org/chainkg/id/t-park" in [s["iri"] for s in r.json()["suggestions"]]


def test_the_404_page_offers_a_query_whose_string_holds_the_name_as_data(web_server):
    """The name reaches the offered query only through a SPARQL string literal, escaped."""
    r = get(web_server + '/id/t-park%22%29%29%7D%20SERVICE%20%3Chttp://x/%3E', headers={"Accept": BROWSER})
    assert r.status_code == 404
    href = re.search(r'href="/\?query=([^"]+)"', r.text).group(1)
    query = unquote(href.replace("&amp;", "&"))
    ox.Store().query(query)  # parses: the name did not break out of the string
    assert "SERVICE" not in query
    assert 'CONTAINS(LCASE(STR(?label)), "t-park service httpx")' in query, query


@pytest.mark.parametrize("text", ['a"b', "back\\slash", "new\nline\r", "'single'", '""" triple', "}} SERVICE <http://x/> {"])
def test_sparql_string_keeps_any_text_a_string(text):
    from chainkg.web.linked_data import sparql_string

    rows = list(ox.Store().query(f"SELECT ?x WHERE {{ BIND({sparql_string(text)} AS ?x) }}"))
    assert rows[0]["x"].value == text


@pytest.mark.parametrize("value", ['"', "%0D%0A", "-1", "0", "9" * 5000, "%C2%B2", "%D9%A3", "1.5", "", "1e3", "0x10"])
def test_bad_page_numbers_are_400_with_a_message(web_server, value):
    for suffix in ("", ".json", ".html"):
        r = get(f"{web_server}/id/t-park{suffix}?page={value}", headers={"Accept": BROWSER})
        assert r.status_code == 400, (value, suffix, r.status_code)
        message = r.json()["message"] if suffix == ".json" else r.text
        assert "page must be a whole number from 1" in message
    assert get(f"{web_server}/id/t-park.json?page=2").status_code == 200
    assert get(f"{web_server}/id/t-park.json?page=999999").json()["incoming"]["page"] >= 1  # past the end: the last page


@pytest.mark.parametrize("path", ["/ontology", "/ontology.json", "/dumps/", "/.well-known/void.html", "/shapes"])
def test_pages_without_pages_ignore_a_bad_page_argument(web_server, path):
    """The ETag of every page used to carry ?page= as it came: a quote or CR LF in it was a 500."""
    for value in ('"', "%0D%0A", "9" * 5000):
        r = get(f"{web_server}{path}?page={value}", headers={"Accept": BROWSER})
        assert r.status_code == 200, (path, value, r.status_code)


# -- item 5: suggestions from an index -------------------------------------------------------------------

@pytest.fixture(scope="module")
def repo_app(kg, config):
    """The app in process on the repository's graph (10k quads: where the old scan took seconds)."""
    app = create_app(config, kg)
    app.testing = True
    return app


def test_a_long_unknown_slug_answers_in_milliseconds(repo_app):
    client = repo_app.test_client()
    client.get("/id/warm-up-the-index", headers={"Accept": BROWSER})
    for slug in ("a" * 8000, "qingdao-" * 1000, "-".join(str(i) for i in range(2000))[:8000]):
        t0 = time.perf_counter()
        r = client.get("/id/" + slug, headers={"Accept": BROWSER})
        elapsed = time.perf_counter() - t0
        assert r.status_code == 404
        assert elapsed < 0.3, f"{len(slug)}-character slug took {elapsed:.2f} s"  # the old scan: 4-6 s
        # the name is shown shortened: in full it is only in the two language-switch links to this page
        assert r.data.count(slug.encode()) == 2 and r.data.count(f'href="/id/{slug}?lang='.encode()) == 2


def test_suggestions_still_find_near_names(repo_app, kg):
    index = pages.SuggestionIndex(kg)
    assert index.search("qingdoa")[0] == "https://w3id.org/chainkg/id/qingdao"
    assert "https://w3id.org/chainkg/id/boe" in index.search("boe")
    assert index.search("") == [] and index.search("a" * 100_000) == []
    text = repo_app.test_client().get("/id/qingdoa", headers={"Accept": BROWSER}).get_data(as_text=True)
    assert 'href="/id/qingdao"' in text


# -- item 7 / 10: the Host header is never reflected, and grows nothing --------------------------------

def test_trailing_slash_redirect_is_relative_whatever_the_host(web_server):
    r = get(web_server + "/dumps", headers={"Host": EVIL})
    assert r.status_code in (301, 308) and r.headers["Location"] == "/dumps/"
    r = get(web_server + "/queries/suppliers-of.csv", headers={"Host": EVIL})
    assert r.status_code == 303 and r.headers["Location"].startswith("/api/queries/suppliers-of?")
    r = get(web_server + "//" + EVIL + "/dumps/", headers={"Host": EVIL})  # never a protocol-relative //host
    location = r.headers.get("Location", "/")
    assert location.startswith("/") and not location.startswith("//"), location


def test_void_names_the_bound_address_not_the_host_header(web_server):
    for path in ("/.well-known/void", "/dataset", "/.well-known/void.nt", "/dataset.html"):
        r = get(web_server + path, headers={"Host": EVIL, "Accept": "text/turtle"})
        assert r.status_code == 200, path
        assert EVIL not in r.text, path
        assert f"<{web_server}/sparql>" in r.text or f"{web_server}/sparql" in r.text, path


@pytest.mark.parametrize("path", ["/", "/id/t-park", "/ontology", "/dumps/", "/queries", "/queries/suppliers-of",
                                  "/chain-map", "/id/no-such-thing", "/shapes", "/id/t-park.json", "/dumps/index.json"])
def test_pages_never_reflect_a_forged_host(web_server, path):
    r = get(web_server + path, headers={"Host": EVIL, "Accept": BROWSER, "X-Forwarded-Host": EVIL})
    assert r.status_code in (200, 404), path
    assert EVIL not in r.text and all(EVIL not in v for v in r.headers.values()), path


def test_public_url_is_used_when_configured(web_config, web_dataset):
    from dataclasses import replace

    app = create_app(replace(web_config, public_url="https://kg.example.org/"), web_dataset)
    r = app.test_client().get("/.well-known/void.nt", headers={"Host": EVIL})
    assert "<https://kg.example.org/sparql>" in r.get_data(as_text=True) and EVIL not in r.get_data(as_text=True)


def test_two_thousand_host_values_do_not_grow_the_caches(web_config, web_dataset):
    app = create_app(web_config, web_dataset)
    client = app.test_client()
    for path in ("/.well-known/void", "/ontology.json", "/shapes.ttl", "/id/nope", "/chain-map.json?chain=t-chain"):
        client.get(path, headers={"Host": "first.example"})
    caches = [app.extensions["chainkg_linked_data_cache"], app.extensions["chainkg.chain_maps"]]
    before = [(len(c), c.nbytes) for c in caches]
    for i in range(2000):
        host = f"h{i}.example:{1000 + i}"
        assert client.get("/.well-known/void", headers={"Host": host}).status_code == 200
        if i % 100 == 0:
            client.get("/chain-map.json?chain=t-chain", headers={"Host": host})
            client.get("/id/nope", headers={"Host": host})
    assert [(len(c), c.nbytes) for c in caches] == before


def test_bounded_cache_evicts_least_recently_used_by_entries_and_bytes():
    cache = pages.BoundedCache(max_entries=3, max_bytes=1000)
    size = lambda v: 100  # noqa: E731
    for k in "abc":
        cache.get(k, lambda k=k: k, size)
    cache.get("a", lambda: pytest.fail("a is cached"))
    cache.get("d", lambda: "d", size)  # evicts b, the least recently used
    assert len(cache) == 3 and cache.nbytes == 300
    built = []
    cache.get("b", lambda: built.append("b") or "b", size)
    assert built == ["b"]  # b was gone; now c went
    cache.get("big", lambda: "big", lambda v: 850)  # over 1000 bytes: a and d go, b (the newest) stays
    assert len(cache) == 2 and cache.nbytes == 950
    assert cache.get("huge", lambda: "y", lambda v: 5000) == "y" and len(cache) == 2  # too big to keep: served only


# -- item 9 / 12: security headers, the licence link ---------------------------------------------------

HTML_PAGES = ["/", "/queries", "/queries/suppliers-of", "/id/t-park", "/id/t-park.html", "/claim/900-park",
              "/ontology", "/shapes", "/dumps/", "/.well-known/void.html", "/chain-map", "/id/no-such-thing"]


def csp(response) -> dict[str, str]:
    policy = response.headers.get("Content-Security-Policy", "")
    return {d.split()[0]: d.strip() for d in policy.split(";") if d.strip()}


@pytest.mark.parametrize("path", HTML_PAGES)
def test_html_pages_carry_a_strict_content_security_policy(web_server, path):
    r = get(web_server + path, headers={"Accept": BROWSER})
    assert r.headers["Content-Type"].startswith("text/html"), path
    d = csp(r)
    assert d["default-src"] == "default-src 'self'"
    assert d["frame-ancestors"] == "frame-ancestors 'none'" and d["base-uri"] == "base-uri 'none'"
    assert d["form-action"] == "form-action 'self'"
    assert "'unsafe-inline'" not in r.headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in r.headers["Content-Security-Policy"]
    # what the policy forbids, the page does not use: no inline script, handler or style attribute
    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>", r.text), path  # data blocks run nothing
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", r.text), path
    assert not re.search(r'<[a-z][^>]*\sstyle="', r.text), path
    assert "<style" not in r.text and "javascript:" not in r.text
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] in ("strict-origin-when-cross-origin", "no-referrer")


ROUTES = {  # every route family: path -> expected status
    "/sparql": 200, "/sparql?query=ASK%7B%7D": 200, "/api/queries": 200, "/api/queries/suppliers-of": 200,
    "/api/openapi.json": 200, "/healthz": 200, "/id/t-park": 200, "/id/t-park.ttl": 200, "/id/no-such-thing": 404,
    "/ontology": 200, "/shapes.ttl": 200, "/dumps/": 200, "/dumps/chainkg-all.nt": 200, "/.well-known/void": 200,
    "/": 200, "/queries": 200, "/queries/suppliers-of": 200, "/chain-map": 200, "/chain-map.svg": 200,
    "/chain-map.json": 200, "/static/style.css": 200, "/no/such/route": 404, "/id/t-park?page=x": 400,
}


@pytest.mark.parametrize("path", list(ROUTES))
def test_every_response_carries_the_licence_link_and_nosniff(web_server, path):
    r = get(web_server + path)
    assert r.status_code == ROUTES[path], (path, r.status_code)
    assert '<https://creativecommons.org/licenses/by/4.0/>; rel="license"' in r.headers.get("Link", ""), path
    assert r.headers.get("Link", "").count('rel="license"') == 1, path
    assert r.headers["X-Content-Type-Options"] == "nosniff", path
    assert "Referrer-Policy" in r.headers, path


def test_post_to_the_endpoint_and_head_carry_the_licence_link(web_server):
    r = requests.post(web_server + "/sparql", data={"query": "ASK {}"}, timeout=30)
    assert r.status_code == 200 and 'rel="license"' in r.headers["Link"]
    r = requests.head(web_server + "/id/t-park", timeout=30)
    assert 'rel="license"' in r.headers["Link"] and r.headers["X-Content-Type-Options"] == "nosniff"
