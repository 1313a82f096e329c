"""Hub pages under `serve --store` (issue #11): a page's store calls do not grow with its neighbours.

An entity page reads every neighbour's labels, types, claims and their sources; on a store this
was one call per node (4,206 calls and 26 s for /id/qingdao on Oxigraph). The page is now warmed
a level at a time (server/chainkg/sparql/prefetch.py): one call per level for all its nodes.
Counted here at the store's door: `serve --store` (the real server, one worker) is pointed at a
counting proxy in front of the real engine (tests/store_proxy.py), and each page is asked once,
cold, over real HTTP. The pages must also be the embedded server's pages, call for call cheaper
but the same content."""

from __future__ import annotations

import pytest
import requests

from live_server import start_server
from store_proxy import CountingProxy
from store_serving import ROOT, STORES, push, start_engine

ID = "https://w3id.org/chainkg/id/"
# id -> (at least this many neighbours on its page): from 150 to over 800 things linking to it
HUBS = {"laoshan-district": 100, "west-coast-new-area": 100, "qingdao": 500, "shandong": 500}
PAGE_CALLS = 16  # store calls for a cold page, whatever its size: exists, a call per level, its figures
TURTLE_CALLS = 6


@pytest.fixture(scope="module", params=STORES)
def counted(request, kg, config, tmp_path_factory):
    """(proxy, server): `serve --store` on a real engine holding the build, through a counting proxy."""
    workdir = tmp_path_factory.mktemp(f"pages-{request.param}")
    engine = start_engine(request.param, workdir)
    proxy = server = None
    try:
        r = push(engine, config)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        proxy = CountingProxy(engine.query)
        server = start_server(["--store", proxy.url, "--workers", "1", "--threads", "4", "--timeout", "10"],
                              workdir / "server.log", root_args=["--root", str(ROOT), "--build-dir", str(config.cache_dir)])
        yield proxy, server
    finally:
        if server is not None:
            server.stop()
        if proxy is not None:
            proxy.stop()
        engine.stop()


def neighbours(page: dict) -> int:
    """The things an entity page links to: its statements' values and its incoming statements' subjects."""
    out = {v["value"].get("iri") for s in page["statements"] for v in s["values"]}
    return len(out - {None}) + page["incoming"]["total"]


def test_hub_pages_cost_a_few_calls_whatever_their_size(counted):
    proxy, server = counted
    seen = {}
    for slug, at_least in HUBS.items():
        proxy.reset()
        r = requests.get(f"{server.url}/id/{slug}", headers={"Accept": "text/html"}, timeout=300)
        assert r.status_code == 200, r.text[:500]
        calls = proxy.calls
        page = requests.get(f"{server.url}/id/{slug}.json", timeout=300).json()
        seen[slug] = (neighbours(page), calls)
        assert neighbours(page) >= at_least, seen
        assert calls <= PAGE_CALLS, (slug, seen, proxy.queries[-3:])
    # and not merely small: the largest page costs no more calls than the smallest plus a level or two
    sizes = sorted(seen.values())
    assert sizes[-1][0] >= 4 * sizes[0][0] and sizes[-1][1] <= sizes[0][1] + 4, seen


def test_the_turtle_description_costs_a_few_calls(counted):
    proxy, server = counted
    proxy.reset()
    r = requests.get(f"{server.url}/id/china", headers={"Accept": "text/turtle"}, timeout=300)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/turtle")
    assert len(r.content) > 20_000
    assert proxy.calls <= TURTLE_CALLS, proxy.queries


def _comparable(value):
    """A page's JSON without what may differ between two servers: blank node ids, the order of a
    thing's own labels (the store's answer order; Virtuoso's differs from Oxigraph's), and the
    figures: a saved query (figures-of) the page runs through the API's path after the warm-up,
    not read through it (on Virtuoso its metric labels for id:qingdao differ: an engine difference)."""
    if isinstance(value, dict):
        return {k: sorted(map(repr, v)) if k == "labels" and isinstance(v, list) else _comparable(v)
                for k, v in value.items() if not (k == "id" and value.get("kind") == "node") and k != "figures"}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


@pytest.mark.parametrize("slug", ["qingdao", "huangdao-district"])
def test_a_warmed_page_is_the_embedded_page(counted, live_server, slug):
    """The warm-up changes how the nodes are read, not what the page says: the same JSON as the
    embedded server's (labels, types, claims, sources, why each inferred statement holds)."""
    proxy, server = counted
    mine = requests.get(f"{server.url}/id/{slug}.json?lang=en", timeout=300)
    theirs = requests.get(f"{live_server.url}/id/{slug}.json?lang=en", timeout=300)
    assert mine.status_code == theirs.status_code == 200
    assert _comparable(mine.json()) == _comparable(theirs.json())
