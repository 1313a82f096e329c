"""Serving without a copy per worker (issue #11 item 3).

A build is saved as two on-disk Oxigraph stores (`store/`: every named graph + their distinct union
as default graph; `asserted/`: the same without graph/inferred) and served from them, opened
read-only: the master, the web workers and the query evaluators of `chainkg serve` all read the same
files, and an extra worker costs its own allocations, not a copy of the dataset. The memory guard
of the evaluators counts anonymous memory only (pages of files are not the query's)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pyoxigraph as ox
import pytest
import requests

from chainkg.build.dataset import ASSERTED_DIR, STORE_DIR, FrozenDataset, verify
from chainkg.build.load import INFERRED_GRAPH
from chainkg.sparql import sandbox
from live_server import start_server

ROOT = Path(__file__).resolve().parents[1]
CHAINKG = str(Path(sys.executable).parent / "chainkg")
EX = "https://example.org/"
MB = 1 << 20


def nn(x: str) -> ox.NamedNode:
    return ox.NamedNode(EX + x)


# -- the stores of a saved dataset ----------------------------------------------------------------

def small_dataset() -> FrozenDataset:
    """One triple stated by two claims and inferred too; one asserted in a single graph; a blank node."""
    store = ox.Store()
    same = (nn("a"), nn("p"), ox.Literal("1"))
    b = ox.BlankNode("q1")
    store.extend([ox.Quad(*same, nn("claim1")), ox.Quad(*same, nn("claim2")), ox.Quad(*same, ox.NamedNode(INFERRED_GRAPH)),
                  ox.Quad(nn("b"), nn("p"), b, nn("claim1")), ox.Quad(b, nn("v"), ox.Literal("2"), nn("claim1")),
                  ox.Quad(nn("c"), nn("q"), nn("a"), ox.NamedNode(INFERRED_GRAPH))])
    ds = FrozenDataset(store=store, version="0123456789abcdef", meta={})
    from chainkg.build.dataset import compute_stats

    ds.meta["stats"] = compute_stats(ds)
    return ds


def test_the_saved_stores_hold_the_distinct_union_and_the_dataset_is_served_from_them(tmp_path):
    ds = small_dataset()
    before = sorted(map(str, ds.store))
    ds.save(tmp_path)
    assert ds.on_disk and (tmp_path / ds.version / STORE_DIR).is_dir() and (tmp_path / ds.version / ASSERTED_DIR).is_dir()
    assert sorted(map(str, ds.store)) == before and len(ds.store) == 6  # the named graphs, nothing more
    count = "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"
    assert ds.select(count) == [{"n": "4"}]  # distinct: the triple of three graphs counts once
    assert ds.select(count, asserted_only=True) == [{"n": "3"}]  # <c q a> is only inferred
    assert ds.select("SELECT (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } }") == [{"n": "6"}]
    graphs = {r["g"] for r in ds.select("SELECT DISTINCT ?g { GRAPH ?g { ?s ?p ?o } }", asserted_only=True)}
    assert graphs == {EX + "claim1", EX + "claim2"}
    # an explicit dataset (the protocol's default-graph-uri) reads the named graphs only
    assert ds.select(count, default_graph=[nn("claim2")]) == [{"n": "1"}]
    # the view of the named graphs: no default-graph copy through a pattern, or a query
    assert len(list(ds.store.quads_for_pattern(nn("a"), None, None, None))) == 3
    assert list(ds.store.quads_for_pattern(None, None, None, ox.DefaultGraph())) == []
    assert not ds.store.query("ASK { ?s ?p ?o }")  # its default graph is empty, as in memory
    # blank node labels are those of the build (and of dataset.nq), whichever way the quads are read
    assert {str(q.object) for q in ds.store.quads_for_pattern(nn("b"), None, None, None)} == {"_:q1"}

    loaded = FrozenDataset.load(tmp_path, ds.version)  # a restart: the same answers
    assert sorted(map(str, loaded.store)) == before
    assert loaded.select(count) == [{"n": "4"}] and loaded.meta["stats"] == ds.meta["stats"]


def test_opening_a_saved_store_changes_no_file(tmp_path):
    """Read-only: opened by several processes, queried, closed; every file keeps its sha256 and
    size, so the cache still verifies."""
    ds = small_dataset()
    ds.save(tmp_path)
    code = ("import sys; from pathlib import Path; from chainkg.build.dataset import FrozenDataset as F; "
            "d = F.load(Path(sys.argv[1]), sys.argv[2]); print(d.select('SELECT (COUNT(*) AS ?n) { ?s ?p ?o }')[0]['n'])")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path), ds.version], stdout=subprocess.PIPE, text=True)
             for _ in range(3)]
    assert [p.communicate(timeout=120)[0].strip() for p in procs] == ["4"] * 3
    verify(tmp_path, ds.version)


# -- the memory guard measures what the query allocates ---------------------------------------------

def test_anonymous_memory_ignores_pages_of_files_but_counts_allocations(tmp_path):
    """A child that maps and reads a 64 MB file grows in RSS, not in anonymous memory; one that
    allocates 64 MB grows in both: the first is never killed as a runaway query, the second is."""
    import mmap

    big = tmp_path / "big"
    big.write_bytes(os.urandom(64 * MB))
    r, w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.close(go_w)
        os.read(go_r, 1)  # the parent has read the base figures
        with open(big, "rb") as f:
            m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
            sum(m[i] for i in range(0, len(m), 4096))  # touch every page of the file
            os.write(w, b"1")
            os.read(go_r, 1)
            hold = bytearray(64 * MB)  # now allocate
            for i in range(0, len(hold), 4096):
                hold[i] = 1
            os.write(w, b"2")
            os.read(go_r, 1)
        os._exit(0)
    os.close(w)
    os.close(go_r)
    def settled(read, above: int) -> int:  # the kernel's RSS counters may lag the page faults a little
        deadline = time.monotonic() + 5
        while (value := read(pid)) <= above and time.monotonic() < deadline:
            time.sleep(0.05)
        return value

    try:
        base_rss, base_anon = sandbox.rss(pid), sandbox.anon_rss(pid)
        os.write(go_w, b"x")
        assert os.read(r, 1) == b"1"
        mapped_rss = settled(sandbox.rss, base_rss + 48 * MB)
        mapped_anon = sandbox.anon_rss(pid)
        os.write(go_w, b"x")
        assert os.read(r, 1) == b"2"
        alloc_anon = settled(sandbox.anon_rss, mapped_anon + 48 * MB)
        os.write(go_w, b"x")
    finally:
        os.waitpid(pid, 0)
    assert mapped_rss - base_rss > 48 * MB  # the file's pages are resident...
    assert mapped_anon - base_anon < 8 * MB  # ...but not anonymous
    assert alloc_anon - mapped_anon > 48 * MB  # an allocation is


# -- the real server on a generated graph ---------------------------------------------------------

def _store_files(pid: int, store: Path) -> dict[str, int]:
    """{store file name: open flags} of the descriptors a process holds on files of `store`."""
    out = {}
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = Path(os.readlink(fd))
        except OSError:
            continue
        if target.parent == store:
            flags = int(Path(f"/proc/{pid}/fdinfo/{fd.name}").read_text().split("flags:")[1].split()[0], 8)
            out[target.name] = flags
    return out


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Two replicas of the real graph (about 45,000 asserted triples), built once."""
    base = tmp_path_factory.mktemp("shared")
    project, build_dir = base / "project", base / "build"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "generate_graph.py"), "40000", str(project)], check=True,
                   capture_output=True, timeout=600)
    subprocess.run([CHAINKG, "--root", str(project), "--build-dir", str(build_dir), "build"], check=True,
                   capture_output=True, timeout=1200)
    return project, build_dir


def test_workers_and_evaluators_read_one_store_and_an_extra_worker_stays_small(generated, tmp_path):
    project, build_dir = generated
    version = (build_dir / "CURRENT").read_text().strip()
    store = build_dir / version / STORE_DIR
    server = start_server(["--workers", "2"], tmp_path / "server.log",
                          root_args=["--root", str(project), "--build-dir", str(build_dir)])
    try:
        stats = requests.get(server.url + "/healthz", timeout=30).json()
        assert stats["status"] == "ok" and stats["version"] == version
        # traffic on both workers: queries (evaluators) and pages (the workers' own reads)
        distinct = FrozenDataset.load(build_dir, version).meta["stats"]["distinct_triples"]
        for _ in range(12):
            r = requests.get(server.sparql, params={"query": "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"},
                             headers={"Accept": "application/sparql-results+json"}, timeout=60)
            assert r.status_code == 200
            assert int(r.json()["results"]["bindings"][0]["n"]["value"]) == distinct
            r = requests.get(server.sparql, params={"query": "SELECT ?s ?l { ?s rdfs:label ?l } LIMIT 2000"},
                             headers={"Accept": "application/sparql-results+json"}, timeout=60)
            assert r.status_code == 200 and len(r.json()["results"]["bindings"]) == 2000
            assert requests.get(server.url + "/", timeout=60).status_code == 200

        master = server.process.pid
        kids = sandbox.children(master)
        zygotes = [k for k in kids if sandbox.children(k)]
        workers = [k for k in kids if k not in zygotes]
        evaluators = [e for z in zygotes for e in sandbox.children(z)]
        assert len(workers) == 2 and len(zygotes) == 1 and evaluators, (kids, zygotes)
        # every process reads the files of the one store in the cache folder, opened read-only
        opened = {pid: _store_files(pid, store) for pid in [master] + workers + evaluators}
        for pid, files in opened.items():
            assert any(name.endswith(".sst") for name in files), (pid, files)
            assert all(flags & os.O_ACCMODE == os.O_RDONLY for flags in files.values()), (pid, files)
        # an extra worker (or evaluator) costs its own allocations only: far below a copy of the data
        data_bytes = sum(f.stat().st_size for f in (build_dir / version).rglob("*") if f.is_file())
        for pid in workers + evaluators:
            private = sandbox.smaps_rollup(pid)["Private"]
            assert private < 100 * MB, (pid, private / MB)
        print(f"data on disk {data_bytes / MB:.0f} MB; worker private "
              f"{[round(sandbox.smaps_rollup(p)['Private'] / MB) for p in workers]} MB")
    finally:
        server.stop()
    verify(build_dir, version)  # serving wrote nothing into the cache: it still verifies


# -- fork safety: every process opens its own handles ------------------------------------------------

def test_a_forked_process_opens_its_own_store_handles_and_leaves_the_parents_alone(tmp_path):
    """RocksDB does not promise that a handle opened before fork() works in the child: a child
    opens its own read-only handles on first use (an evaluator before it reports ready), keeps the
    inherited ones referenced but unused (closing them in the child could wait on the parent's
    locks), and the parent's handles go on working after the child is gone."""
    ds = small_dataset()
    ds.save(tmp_path)
    parent_union, parent_asserted = ds.union_store, ds.asserted_store
    count = "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(r)
            before = ds.handles.pid != os.getpid()  # inherited, not yet opened here
            opened_s = ds.open_here()
            mine = ds.union_store is not parent_union and ds.asserted_store is not parent_asserted
            answer = (f"{before} {mine} {ds.handles.pid == os.getpid()} {opened_s > 0} {ds.select(count)[0]['n']} "
                      f"{ds.select(count, asserted_only=True)[0]['n']} {len(list(ds.store.quads_for_pattern(nn('a'), None, None, None)))}")
            os.write(w, answer.encode())
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r) as f:
        answer = f.read()
    _, status = os.waitpid(pid, 0)
    assert status == 0 and answer == "True True True True 4 3 3", answer
    # the parent: the same handles as before, still answering
    assert ds.union_store is parent_union and ds.open_here() == 0.0
    assert ds.select(count) == [{"n": "4"}] and ds.select(count, asserted_only=True) == [{"n": "3"}]


def test_an_evaluator_opens_its_own_handles_before_it_reports_ready(tmp_path):
    ds = small_dataset()
    ds.save(tmp_path)
    zygote = sandbox.Zygote(ds, isolate=False)
    zygote.start()
    try:
        import socket

        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(zygote.path)
        hello, _ = sandbox.recv_frame(sock)
        sock.close()
        assert hello["pid"] not in (os.getpid(), zygote.pid) and hello["open_s"] > 0, hello
        pool = sandbox.Pool(zygote.path)
        from chainkg.sparql.engine import run_query

        result = run_query(ds, "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }", accept="text/csv", runner=pool)
        assert result.body.decode().split() == ["n", "4"]
        pool.close()
    finally:
        zygote.stop()


def test_the_search_index_is_built_in_a_child_and_the_parent_does_not_keep_its_objects(generated, tmp_path):
    """The extraction's Python objects (tens of MB here, hundreds at a million triples) live and
    die in a forked child: the server's master, which every web worker inherits, does not grow."""
    from chainkg.build import textindex

    project, build_dir = generated
    ds = FrozenDataset.load(build_dir, (build_dir / "CURRENT").read_text().strip())
    ds.select("SELECT (COUNT(*) AS ?n) { ?s ?p ?o }")
    import tracemalloc
    before = sandbox.anon_rss(os.getpid())
    tracemalloc.start()
    try:
        path, meta, built = textindex.ensure_index_apart(ds, tmp_path / "apart" / textindex.INDEX_FILE)
        peak_apart = tracemalloc.get_traced_memory()[1]
        grown_apart = sandbox.anon_rss(os.getpid()) - before
        assert built and meta["version"] == ds.version and meta["docs"] > 5000
        assert textindex.ensure_index_apart(ds, path)[2] is False  # reused
        tracemalloc.reset_peak()
        same, meta_here, _ = textindex.ensure_index(ds, tmp_path / "here" / textindex.INDEX_FILE)
        peak_here = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert {k: v for k, v in meta.items() if k != "build_s"} == {k: v for k, v in meta_here.items() if k != "build_s"}
    assert textindex.SearchIndex(path).search("qingdao")["results"][0].iri == \
        textindex.SearchIndex(same).search("qingdao")["results"][0].iri
    # the resident size after a build says little (an in-process build may give its memory back before it
    # returns), so the control is the Python heap's peak while each runs: building here allocates the
    # extraction's objects in this process (tens of MB), building apart allocates them in the child only
    assert grown_apart < 8 * MB, grown_apart / MB
    assert peak_apart < 4 * MB < peak_here, (peak_apart / MB, peak_here / MB)
    # a folder it cannot write: the child's OSError reaches the caller
    blocked = tmp_path / "blocked"
    blocked.write_text("a file, not a folder")
    with pytest.raises(OSError):
        textindex.ensure_index_apart(ds, blocked / textindex.INDEX_FILE)
