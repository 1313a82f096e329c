"""Dumps over real HTTP: every format parses, counts match `chainkg stats`, the TriG dump round-trips
graph by graph, and `chainkg export --format all` writes the same files."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pyoxigraph as ox
import pytest
import requests
from rdflib import Dataset, Graph, URIRef
from rdflib.compare import isomorphic

from test_linked_data import ld_config, ld_dataset, ld_project, ld_server, parse  # noqa: F401

EXTENSIONS = {"ttl": "ttl", "nt": "nt", "jsonld": "jsonld", "rdf": "rdf", "trig": "trig", "nq": "nq"}


def cli(project, *args) -> str:
    cmd = [sys.executable, "-m", "chainkg.cli", "--root", str(project), "--build-dir", str(project / "build"), *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def stats(ld_project):  # noqa: F811
    return json.loads(cli(ld_project, "stats", "-o", "json"))


@pytest.fixture(scope="module")
def manifest(ld_server):  # noqa: F811
    r = requests.get(ld_server + "/dumps/index.json")
    assert r.status_code == 200
    return r.json()


def test_dumps_page_lists_every_format_with_size_count_and_version(ld_server, manifest, stats):  # noqa: F811
    assert manifest["version"] == stats["version"] == requests.get(ld_server + "/healthz").json()["version"]
    assert manifest["license"] == "https://creativecommons.org/licenses/by/4.0/"
    files = {d["file"]: d for d in manifest["dumps"]}
    for ext in EXTENSIONS:
        assert f"chainkg-all.{ext}" in files and f"chainkg-all.{ext}.gz" in files
    html = requests.get(ld_server + "/dumps/", headers={"Accept": "text/html"}).text
    for name, d in files.items():
        assert f'href="/dumps/{name}"' in html
        assert d["version"] == stats["version"] and d["bytes"] > 0
    assert "{:,}".format(files["chainkg-all.trig"]["triples"]) in html


@pytest.mark.parametrize("ext", list(EXTENSIONS))
def test_every_dump_parses_and_its_count_matches_stats(ld_server, manifest, stats, ext):  # noqa: F811
    entry = next(d for d in manifest["dumps"] if d["file"] == f"chainkg-all.{ext}")
    r = requests.get(ld_server + "/dumps/" + entry["file"])
    assert r.status_code == 200 and r.headers["Content-Type"].split(";")[0] == entry["media_type"]
    assert len(r.content) == entry["bytes"]
    g = parse(r.content, ext)
    expected = stats["quads"] if entry["named_graphs"] else stats["distinct_triples"]
    n = sum(1 for _ in g.quads((None, None, None, None))) if isinstance(g, Dataset) else len(g)
    assert entry["triples"] == expected == n
    gz = requests.get(ld_server + "/dumps/" + entry["file"] + ".gz")
    assert gzip.decompress(gz.content) == r.content


def test_trig_dump_round_trips_graph_by_graph(ld_server, ld_dataset):  # noqa: F811
    """Download the TriG dump, load it into a fresh rdflib Dataset: each named graph is
    isomorphic to the same graph of the served dataset's own store."""
    downloaded = Dataset()
    downloaded.parse(data=requests.get(ld_server + "/dumps/chainkg-all.trig").content, format="trig")
    store = ld_dataset.store
    names = sorted(g.value for g in store.named_graphs())
    got = sorted(str(g.identifier) for g in downloaded.graphs() if len(g) and str(g.identifier).startswith("https://"))
    assert got == names
    for name in names:
        quads = store.quads_for_pattern(None, None, None, ox.NamedNode(name))
        expected = Graph().parse(data=ox.serialize((q.triple for q in quads), format=ox.RdfFormat.N_TRIPLES), format="nt")
        assert isomorphic(downloaded.graph(URIRef(name)), expected), name
    assert len(downloaded.default_graph) == 0


def test_text_dumps_state_the_licence(ld_server):  # noqa: F811
    head = requests.get(ld_server + "/dumps/chainkg-all.ttl").content[:200].decode()
    assert "CC BY 4.0" in head and "https://creativecommons.org/licenses/by/4.0/" in head


def test_cli_export_writes_the_same_files(ld_server, ld_project, manifest, tmp_path):  # noqa: F811
    """Same names, same triples; blank node labels may differ between processes."""
    cli(ld_project, "export", "--format", "all", "--out", str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(d["file"] for d in manifest["dumps"])
    for d in manifest["dumps"]:
        if d["gzip"]:
            continue
        ext = d["file"].rsplit(".", 1)[1]
        served = parse(requests.get(ld_server + "/dumps/" + d["file"]).content, ext)
        written = parse((tmp_path / d["file"]).read_bytes(), ext)
        if isinstance(served, Dataset):
            assert len(list(served.quads())) == len(list(written.quads())), d["file"]
        else:
            assert isomorphic(served, written), d["file"]


def test_unknown_dump_is_404(ld_server):  # noqa: F811
    assert requests.get(ld_server + "/dumps/secret.txt").status_code == 404
    assert requests.get(ld_server + "/dumps/..%2Fmeta.json").status_code == 404
