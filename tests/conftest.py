"""Shared fixtures: the built repository graph and a way to run saved queries on it."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from chainkg.build.pipeline import build
from chainkg.config import Config
from chainkg.sparql.saved import load_queries

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def missing_input(message: str) -> None:
    """An input the tests need (../shared/sources, the W3C manifests) is absent: a skip with its
    message on a user's machine, a failure in CI (env `CI` set), where every input must be present."""
    if os.environ.get("CI"):
        pytest.fail(f"{message} [CI is set: a missing input is a failure, not a skip]", pytrace=False)
    pytest.skip(message, allow_module_level=True)


@pytest.fixture(scope="session")
def config(tmp_path_factory) -> Config:
    """The repository's own inputs; the build cache goes to a per-session temp folder
    unless CHAINKG_TEST_CACHE names one (to reuse builds between runs)."""
    cache = os.environ.get("CHAINKG_TEST_CACHE")
    return Config(root=ROOT, build_dir=Path(cache) if cache else tmp_path_factory.mktemp("build"))


@pytest.fixture(scope="session")
def kg(config):
    """The frozen dataset built from the repository's ontology, triples and shapes."""
    return build(config).dataset


@pytest.fixture(scope="session")
def saved_queries(config):
    return load_queries(config.queries_dir)


@pytest.fixture(scope="session")
def saved(kg, saved_queries):
    """saved(name, **params) -> list of {variable: str} rows of a saved query on the built graph."""

    def run(name: str, **params):
        q = saved_queries[name]
        return kg.select(q.sparql, substitutions=q.bindings(params))

    return run


# The prefixes of a test article (a .trig file of claims).
PREFIXES = """\
@prefix ck:    <https://w3id.org/chainkg/ontology#> .
@prefix id:    <https://w3id.org/chainkg/id/> .
@prefix claim: <https://w3id.org/chainkg/claim/> .
@prefix src:   <https://w3id.org/chainkg/source/> .
@prefix prov:  <http://www.w3.org/ns/prov#> .
@prefix rdfs:  <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos:  <http://www.w3.org/2004/02/skos/core#> .
@prefix xsd:   <http://www.w3.org/2001/XMLSchema#> .
"""

MINI_TRIG = PREFIXES + """
claim:900-park {
    id:test-park a ck:IndustrialPark ;
        rdfs:label "测试产业园"@zh , "Test Park"@en ; skos:prefLabel "测试产业园"@zh ;
        ck:locatedIn id:laoshan-district .
}
claim:900-park a ck:Claim ; prov:wasDerivedFrom src:900_test ; ck:evidence "测试产业园位于崂山区"@zh .

claim:900-supply {
    id:test-maker a ck:Enterprise ;
        rdfs:label "测试制造"@zh , "Test Maker"@en ; skos:prefLabel "测试制造"@zh ;
        ck:tenantOf id:test-park ;
        ck:supplies id:test-buyer ;
        ck:hasQuantity [ a ck:Quantity ; ck:hasMetric ck:Investment ; ck:value 600000000.0 ;
            ck:hasVariable ck:ProjectTotalInvestment ; ck:hasModality ck:ModalityActual ; ck:pointInTime "2024"^^xsd:gYear ; ck:hasTimeBasis ck:TimeFromPublication ;
            ck:hasUnit ck:Yuan ; ck:hasQualifier ck:About ; ck:originalWording "约6亿元"@zh ] .
    id:test-buyer a ck:Enterprise ;
        rdfs:label "测试买家"@zh , "Test Buyer"@en ; skos:prefLabel "测试买家"@zh ;
        ck:locatedIn id:qingdao .
}
claim:900-supply a ck:Claim ; prov:wasDerivedFrom src:900_test ; ck:evidence "测试制造投资约6亿元，向测试买家供货"@zh .
"""

MINI_SOURCES = """\
@prefix ck:      <https://w3id.org/chainkg/ontology#> .
@prefix src:     <https://w3id.org/chainkg/source/> .
@prefix dcterms: <http://purl.org/dc/terms/> .
@prefix xsd:     <http://www.w3.org/2001/XMLSchema#> .

src:900_test a ck:Source ;
    dcterms:identifier "900_test.txt" ;
    dcterms:title "测试文章"@zh ;
    dcterms:publisher <https://w3id.org/chainkg/source/agent/chainkg-tests> ;
    dcterms:date "2024-04-01"^^xsd:date ;
    dcterms:language <http://id.loc.gov/vocabulary/iso639-1/zh> .
"""


def make_project(root: Path, trig: str = MINI_TRIG, sources: str = MINI_SOURCES, *, article: str = "900_test",
                 saved_queries: bool = False, queries: dict[str, str] | None = None) -> Path:
    """A small project folder: the repository's ontology, shapes and background places, plus one
    test article of claims (triples/{article}.trig) and its sources.ttl. saved_queries also copies
    the repository's saved queries; queries adds more ({file name: text}). Idempotent. Returns root."""
    import shutil

    for folder in ("ontology", "shapes") + (("queries",) if saved_queries else ()):
        shutil.copytree(ROOT / folder, root / folder, dirs_exist_ok=True)
    (root / "triples").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "triples" / "background.trig", root / "triples" / "background.trig")
    (root / "triples" / "sources.ttl").write_text(sources, encoding="utf-8")
    (root / "triples" / f"{article}.trig").write_text(trig, encoding="utf-8")
    (root / "queries").mkdir(exist_ok=True)
    for name, text in (queries or {}).items():
        (root / "queries" / name).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def mini_project(tmp_path) -> Path:
    return make_project(tmp_path / "project")


@pytest.fixture
def mini_config(mini_project) -> Config:
    return Config(root=mini_project, build_dir=mini_project / "build")


# -- the real server over HTTP (issue 5): `chainkg serve` as a subprocess on a free port ----------
@pytest.fixture(scope="session")
def live_server(kg, config, tmp_path_factory):
    """`chainkg serve` (gunicorn, 2 workers) on the repository's graph, loaded from the session's
    build cache. Short limits so that the limit tests run quickly: 2 s per query, 500 rows."""
    from live_server import start_server

    log = tmp_path_factory.mktemp("server") / "server.log"
    server = start_server(["--workers", "2", "--threads", "4", "--timeout", "2", "--max-rows", "500",
                           "--max-body", "20000"], log,
                          root_args=["--root", str(ROOT), "--build-dir", str(config.cache_dir)])
    yield server
    server.stop()


# -- a loopback port that records every connection (the target of the SSRF attacks) --------------
class Listener:
    """A TCP server on 127.0.0.1 that records every connection and the path its request asked for
    (`connections`, `paths`), then closes it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/sparql"
        self.connections: list = []
        self.paths: list[str] = []
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self._stop:
            try:
                conn, addr = self.sock.accept()
            except OSError:
                continue
            self.connections.append(addr)
            conn.settimeout(1)
            try:
                head = conn.recv(2048).decode("latin-1")
                self.paths.append(head.split(" ")[1] if " " in head else "?")
            except OSError:
                self.paths.append("?")
            conn.close()

    def close(self):
        self._stop = True
        self.thread.join()
        self.sock.close()


@pytest.fixture(scope="module")
def listener():
    lst = Listener()
    yield lst
    lst.close()
