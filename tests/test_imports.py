"""Declared imports (issue #10 item 1): each in its own named graph with its provenance, placed
under our terms by its alignment, fetched only by `chainkg fetch`, cached by hash, streamed;
bad input stops the build with one clear line and the server keeps the last good build.

The scratch projects hold our ontology, shapes, catalogue and background geography, and import a
slice of the real GB/T 2260 import (imports/gb2260/*.nt): the Qingdao divisions and their parents.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from chainkg.build.pipeline import BuildError, build
from chainkg.config import Config
from chainkg.integrate import imports as im

ROOT = Path(__file__).resolve().parents[1]
GB = "https://w3id.org/chainkg/ext/gb2260/"
CK = "https://w3id.org/chainkg/ontology#"
GRAPH = "https://w3id.org/chainkg/graph/ext/demo"
CHAINKG = str(Path(sys.executable).parent / "chainkg")


def gb_slice() -> bytes:
    """The real import's lines about Shandong, Qingdao and its districts, plus its vocabulary."""
    keep = (f"<{GB}370000>", f"<{GB}370200>", f"<{GB}3702", f"<{GB}vocab#")
    lines = [line for line in (ROOT / "imports/gb2260/gb2260-201904.nt").read_text(encoding="utf-8").splitlines()
             if line.startswith(keep)]
    return ("\n".join(lines) + "\n").encode()


def project(tmp_path: Path, data: bytes, *, source: str | None = None, sha: str | None = None,
            fmt: str = "ntriples", name: str = "demo") -> Config:
    """A small project: our ontology, shapes, catalogue and background, and one declared import."""
    root = tmp_path / "project"
    (root / "triples").mkdir(parents=True)
    shutil.copytree(ROOT / "ontology", root / "ontology")
    shutil.copytree(ROOT / "shapes", root / "shapes")
    (root / "queries").mkdir()
    for f in ("sources.ttl", "background.trig"):
        shutil.copy(ROOT / "triples" / f, root / "triples" / f)
    (root / "imports").mkdir()
    shutil.copy(ROOT / "imports/gb2260/alignment.ttl", root / "imports/alignment.ttl")
    (root / "imports/data.nt").write_bytes(data)
    (root / "imports/imports.toml").write_text(f"""
[[import]]
name = "{name}"
title = "A slice of GB/T 2260"
source = "{source or 'imports/data.nt'}"
format = "{fmt}"
sha256 = "{sha or hashlib.sha256(data).hexdigest()}"
license = "http://spdx.org/licenses/BSD-2-Clause"
origin = "test slice of imports/gb2260"
alignment = ["imports/alignment.ttl"]
""", encoding="utf-8")
    return Config(root=root, build_dir=tmp_path / "build")


def ask(ds, query: str) -> bool:
    return bool(ds.query(query))


def test_an_import_lands_in_its_graph_described_in_provenance_and_placed_under_our_terms(tmp_path):
    data = gb_slice()
    ds = build(project(tmp_path, data)).dataset
    n = sum(1 for line in data.splitlines() if line.strip())
    assert ds.count(GRAPH) == n
    rows = ds.select(f"""PREFIX void: <http://rdfs.org/ns/void#> PREFIX dcterms: <http://purl.org/dc/terms/>
        PREFIX pav: <http://purl.org/pav/>
        SELECT ?n ?lic ?src WHERE {{ GRAPH <https://w3id.org/chainkg/graph/provenance> {{
          <{GRAPH}> void:triples ?n ; dcterms:license ?lic ; pav:retrievedFrom ?src }} }}""")
    assert rows == [{"n": str(n), "lic": "http://spdx.org/licenses/BSD-2-Clause", "src": "imports/data.nt"}]
    # the alignment places Huangdao under ck:District and in Shandong; the inferences are in graph/inferred only
    inferred = "https://w3id.org/chainkg/graph/inferred"
    assert ask(ds, f"ASK {{ GRAPH <{inferred}> {{ <{GB}370211> a <{CK}District> ; <{CK}locatedIn> <{GB}370000> }} }}")
    assert not ask(ds, f"ASK {{ GRAPH <{GRAPH}> {{ <{GB}370211> a <{CK}District> }} }}")
    assert ask(ds, f"ASK {{ GRAPH <{inferred}> {{ <{GB}370200> a <{CK}City> }} }}")
    # the alignment joined graph/ontology
    assert ask(ds, f"ASK {{ GRAPH <https://w3id.org/chainkg/graph/ontology> {{ <{GB}vocab#MunicipalDistrict> ?p <{CK}District> }} }}")


def test_an_unchanged_import_is_checked_once(tmp_path, monkeypatch):
    config = project(tmp_path, gb_slice())
    build(config)
    calls = []
    real = im._check
    monkeypatch.setattr(im, "_check", lambda *a, **k: calls.append(a) or real(*a, **k))
    (config.root / "triples" / "sources.ttl").write_text(
        (config.root / "triples" / "sources.ttl").read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    result = build(config)
    assert not result.cached and calls == []  # our inputs changed and were rebuilt; the import was not re-checked
    (config.root / "imports" / "alignment.ttl").write_text(
        (config.root / "imports" / "alignment.ttl").read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    build(config)
    assert len(calls) == 1  # its alignment changed: checked again


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_folder(tmp_path):
    folder = tmp_path / "www"
    folder.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_url_is_read_only_from_the_cache_that_fetch_fills(tmp_path, http_folder):
    folder, base = http_folder
    data = gb_slice()
    (folder / "slice.nt").write_bytes(data)
    config = project(tmp_path, data, source=f"{base}/slice.nt")
    with pytest.raises(BuildError, match=r"is not in the cache .*run `chainkg fetch`"):
        build(config)
    out = subprocess.run([CHAINKG, "--root", str(config.root), "--build-dir", str(config.build_dir), "fetch"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "fetched" in out.stdout and "checksum ok" in out.stdout
    (folder / "slice.nt").unlink()  # the build never goes back to the network
    ds = build(config).dataset
    assert ds.count(GRAPH) == sum(1 for line in data.splitlines() if line.strip())
    rows = ds.select(f"""PREFIX pav: <http://purl.org/pav/> SELECT ?t ?src WHERE {{
        <{GRAPH}> pav:retrievedOn ?t ; pav:retrievedFrom ?src }}""")
    assert rows and rows[0]["src"] == f"{base}/slice.nt" and rows[0]["t"][:2] == "20"


def test_fetch_with_a_wrong_checksum_writes_nothing(tmp_path, http_folder):
    folder, base = http_folder
    (folder / "slice.nt").write_bytes(gb_slice())
    config = project(tmp_path, gb_slice(), source=f"{base}/slice.nt", sha="0" * 64)
    with pytest.raises(im.ImportProblem, match="checksum mismatch") as e:
        im.fetch(config)
    assert len(str(e.value).splitlines()) == 1
    cache = config.build_dir / "imports"
    assert not cache.exists() or not [p for p in cache.iterdir() if p.is_file()]


def test_an_unreachable_url_is_one_line(tmp_path):
    import socket

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = project(tmp_path, gb_slice(), source=f"http://127.0.0.1:{port}/nothing.nt")
    out = subprocess.run([CHAINKG, "--root", str(config.root), "--build-dir", str(config.build_dir), "fetch"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert out.stderr.startswith("error: import demo: cannot fetch http://127.0.0.1:")
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_a_corrupt_import_names_file_and_line(tmp_path):
    good = gb_slice().splitlines()
    broken = b"\n".join(good[:4] + [b'<https://w3id.org/chainkg/ext/gb2260/1> <http://x/p> "unterminated .'] + good[4:]) + b"\n"
    with pytest.raises(BuildError, match=r"data\.nt:5: import demo: corrupt file"):
        build(project(tmp_path, broken))


def test_an_import_that_redefines_our_terms_stops_the_build(tmp_path):
    data = gb_slice() + f"<{CK}Enterprise> <http://www.w3.org/2000/01/rdf-schema#subClassOf> <{CK}Place> .\n".encode()
    with pytest.raises(BuildError, match=r"data\.nt:\d+: import demo redefines our term <.*ontology#Enterprise>"):
        build(project(tmp_path, data))


def test_an_import_that_repeats_our_ontology_is_not_a_redefinition(tmp_path):
    line = f"<{CK}District> <http://www.w3.org/2000/01/rdf-schema#subClassOf> <{CK}Place> .\n".encode()
    ds = build(project(tmp_path, gb_slice() + line)).dataset
    assert not ask(ds, f"ASK {{ GRAPH <{GRAPH}> {{ <{CK}District> ?p ?o }} }}")  # ours, not the import's


def test_a_literal_where_our_object_property_needs_an_iri_is_a_clash(tmp_path):
    data = gb_slice() + f'<{GB}370211> <{GB}vocab#parent> "370200" .\n'.encode()
    with pytest.raises(BuildError) as e:
        build(project(tmp_path, data))
    text = str(e.value)
    assert "import demo clashes with our ontology" in text and '"370200"' in text
    assert "aligned to <https://w3id.org/chainkg/ontology#locatedIn>" in text
    assert "ontology/chainkg.ttl:" in text  # the ontology's claim: where it declares ck:locatedIn an object property


def test_a_disjointness_clash_names_the_import_and_the_claim(tmp_path):
    data = gb_slice() + (f"<https://w3id.org/chainkg/id/laoshan-district> "
                         f"<http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{CK}Enterprise> .\n").encode()
    with pytest.raises(BuildError) as e:
        build(project(tmp_path, data))
    text = str(e.value)
    assert "data.nt:" in text and "import demo says <https://w3id.org/chainkg/id/laoshan-district>" in text
    assert "claim <https://w3id.org/chainkg/graph/background>" in text and "background.trig" in text
    assert "disjoint" in text


def test_a_broken_import_leaves_the_last_good_build_serving(tmp_path):
    config = project(tmp_path, gb_slice())
    good = build(config).dataset
    (config.root / "imports" / "data.nt").write_bytes(gb_slice() + b"<broken\n")
    result = build(config, fallback=True)
    assert result.stale and result.dataset.version == good.version
    assert "checksum mismatch" in result.error and len(result.error.splitlines()) == 1


def test_a_large_import_streams_and_never_reaches_rdflib_whole(tmp_path, monkeypatch):
    """200,000 triples: the checks, the store and the provenance take it through pyoxigraph; rdflib
    only sees the typed subset (none here) and the shapes' sample."""
    from rdflib import Graph

    lines = [f'<{GB}x{i}> <{GB}vocab#note> "n{i}" .' for i in range(200_000)]
    data = ("\n".join(lines) + "\n").encode()
    added = [0]
    real_add = Graph.add

    def counting_add(self, triple):
        added[0] += 1
        return real_add(self, triple)

    config = project(tmp_path, data)
    build(config)  # warm the ontology/shapes caches of this process
    monkeypatch.setattr(Graph, "add", counting_add)
    (config.root / "imports" / "alignment.ttl").write_text("# no alignment\n", encoding="utf-8")
    ds = build(config, force=True).dataset
    assert ds.count(GRAPH) == 200_000
    assert added[0] < 60_000  # our ontology, shapes and data go through rdflib; the import does not
