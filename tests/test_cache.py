"""The build cache proves itself (issue 14, item 6 / report 8).

A cached build is used only when its meta.json parses, has every key, the N-Quads file has
the recorded BLAKE3 digest and quad count, and each on-disk store folder holds exactly the recorded files
with their sizes and digests (and opens); anything else is rebuilt (the log says why, on one line)
and never served. With broken inputs, the server's build (fallback=True) serves the newest good build,
marked stale, and /healthz says so; the CLI still fails."""

from __future__ import annotations

import json
import logging
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import blake3
import pyoxigraph as ox
import pytest

from chainkg.build.dataset import CacheError, FrozenDataset, verify
from chainkg.build.pipeline import BuildError, ValidationFailed, build
from chainkg.config import Config
from conftest import MINI_TRIG

CLI = [str(Path(sys.executable).parent / "chainkg")]


@pytest.fixture
def good(mini_config):
    """A verified build of the mini project: (config, result)."""
    result = build(mini_config)
    assert not result.cached
    return mini_config, result


def folder(config: Config, version: str) -> Path:
    return config.cache_dir / version


def truncate_at_line(path: Path, keep: float = 0.5) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[: int(len(lines) * keep)]))


def corrupt_flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def meta_set(key_path: tuple, value):
    def change(path: Path) -> None:
        meta = json.loads(path.read_text())
        node = meta
        for k in key_path[:-1]:
            node = node[k]
        if value is KeyError:
            del node[key_path[-1]]
        else:
            node[key_path[-1]] = value
        path.write_text(json.dumps(meta))
    return change


# (file, how it is broken, words the one-line reason must hold)
CORRUPTIONS = {
    "nq truncated at a line boundary": ("dataset.nq", truncate_at_line, "blake3"),
    "nq emptied": ("dataset.nq", lambda p: p.write_bytes(b""), "blake3"),
    "nq one byte flipped": ("dataset.nq", corrupt_flip_byte, "blake3"),
    "nq deleted": ("dataset.nq", lambda p: p.unlink(), "unreadable"),
    "nq replaced by a folder": ("dataset.nq", lambda p: (p.unlink(), p.mkdir()), "unreadable"),
    "meta deleted": ("meta.json", lambda p: p.unlink(), "missing"),
    "meta emptied": ("meta.json", lambda p: p.write_text(""), "unreadable"),
    "meta not json": ("meta.json", lambda p: p.write_text("{\"stats\": {"), "unreadable"),
    "meta is a list": ("meta.json", lambda p: p.write_text("[1, 2]"), "lacks"),
    "meta binary": ("meta.json", lambda p: p.write_bytes(b"\xff\xfe\x00garbage"), "unreadable"),
    "meta without checksum": ("meta.json", meta_set(("cache", "files", "dataset.nq", "blake3"), KeyError), "lacks"),
    "meta without cache key": ("meta.json", meta_set(("cache",), KeyError), "lacks"),
    "meta without stats": ("meta.json", meta_set(("stats",), KeyError), "lacks"),
    "meta count wrong": ("meta.json", meta_set(("cache", "files", "dataset.nq", "quads"), 10272), "10272"),
    "meta count a string": ("meta.json", meta_set(("cache", "files", "dataset.nq", "quads"), "12"), "lacks"),
    "meta of another version": ("meta.json", meta_set(("cache", "version"), "0123456789abcdef"), "lacks"),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_a_corrupt_cache_is_rebuilt_never_served(good, case, caplog):
    config, first = good
    name, corrupt, reason = CORRUPTIONS[case]
    corrupt(folder(config, first.dataset.version) / name)
    with pytest.raises(CacheError, match=reason):
        verify(config.cache_dir, first.dataset.version)

    lines = []
    with caplog.at_level(logging.WARNING, logger="chainkg.build"):
        again = build(config, progress=lines.append)
    assert not again.cached, "a cache that does not verify was served"
    assert len(again.dataset.store) == len(first.dataset.store) == again.dataset.meta["stats"]["quads"]
    said = [m for m in lines if "rebuilding" in m]
    assert len(said) == 1 and reason in said[0] and "\n" not in said[0], lines
    assert any("rejected" in r.getMessage() for r in caplog.records)
    # the rebuilt folder verifies again, and the next start uses it
    verify(config.cache_dir, first.dataset.version)
    assert build(config).cached


def largest(folder: Path) -> Path:
    """The largest file of a store that holds data (not RocksDB's LOCK or info LOG)."""
    return max((p for p in folder.iterdir() if p.is_file() and not p.name.startswith(("LOG", "LOCK"))),
               key=lambda p: p.stat().st_size)


def flip_in_largest(store: Path) -> None:
    corrupt_flip_byte(largest(store))


def truncate_largest(store: Path) -> None:
    path = largest(store)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def add_file(store: Path) -> None:
    (store / "000999.sst").write_bytes(b"not a table")


# damage to an on-disk store folder: (store folder, how it is broken, words the one-line reason must hold)
STORE_DAMAGE = {
    "store folder deleted": ("store", lambda p: shutil.rmtree(p), "missing"),
    "store folder emptied": ("store", lambda p: [f.unlink() for f in p.iterdir()], "missing"),
    "store largest file truncated (a partial copy)": ("store", truncate_largest, "partial or damaged"),
    "store one byte flipped in its largest file": ("store", flip_in_largest, "blake3"),
    "store CURRENT deleted": ("store", lambda p: (p / "CURRENT").unlink(), "CURRENT: missing"),
    "store a file that meta.json does not record": ("store", add_file, "does not record"),
    "asserted store one byte flipped": ("asserted", flip_in_largest, "blake3"),
    "asserted store replaced by a file": ("asserted", lambda p: (shutil.rmtree(p), p.write_text("x")), "missing"),
    "meta without stores": (None, lambda f: meta_set(("cache", "stores"), KeyError)(f / "meta.json"), "on-disk stores"),
    "meta store file list emptied": (None, lambda f: meta_set(("cache", "stores", "store", "files"), {})(f / "meta.json"),
                                     "on-disk stores"),
}


@pytest.mark.parametrize("case", sorted(STORE_DAMAGE))
def test_a_damaged_store_folder_is_rebuilt_never_served(good, case, caplog):
    config, first = good
    name, damage, reason = STORE_DAMAGE[case]
    where = folder(config, first.dataset.version)
    damage(where / name if name else where)
    with pytest.raises(CacheError, match=reason):
        verify(config.cache_dir, first.dataset.version)
    lines = []
    again = build(config, progress=lines.append)
    assert not again.cached, "a damaged store was served"
    assert [m for m in lines if "rebuilding" in m and reason in m]
    assert again.dataset.on_disk and len(again.dataset.store) == first.dataset.meta["stats"]["quads"]
    assert build(config).cached


def test_a_damaged_last_good_store_is_skipped_by_the_fallback(good):
    config, first = good
    path = config.triples_dir / "900_test.trig"
    path.write_text(MINI_TRIG + "\n# older inputs\n")
    older = build(config).dataset.version
    path.write_text(MINI_TRIG)
    (config.cache_dir / "CURRENT").write_text(first.dataset.version + "\n")
    flip_in_largest(folder(config, first.dataset.version) / "store")
    break_inputs(config, "syntax")
    result = build(config, fallback=True)
    assert result.stale and result.dataset.version == older and result.dataset.on_disk


def test_a_build_is_served_from_its_saved_stores(good):
    """After saving, a fresh build answers from the on-disk stores (as a restart does): the same
    quads, the distinct union as default graph, graph/inferred left out of the asserted store."""
    config, first = good
    ds = first.dataset
    assert ds.on_disk and ds.location == folder(config, ds.version)
    again = build(config)
    assert again.cached and again.dataset.on_disk
    assert sorted(map(str, ds.store)) == sorted(map(str, again.dataset.store))
    assert len(list(ds.store)) == len(ds.store) == ds.meta["stats"]["quads"]
    assert not list(ds.store.quads_for_pattern(None, None, None, ox.DefaultGraph()))
    n = ds.select("SELECT (COUNT(*) AS ?n) { ?s ?p ?o }")[0]["n"]
    assert int(n) == ds.meta["stats"]["distinct_triples"] <= len(ds.store)
    inferred = "https://w3id.org/chainkg/graph/inferred"
    assert inferred in ds.graph_names()
    asserted = ds.select("SELECT DISTINCT ?g { GRAPH ?g { ?s ?p ?o } }", asserted_only=True)
    assert asserted and inferred not in {r["g"] for r in asserted}
    # the named-graph view: a pattern sees only named graphs (no second copy from the default graph)
    s = next(iter(ds.store)).subject
    assert all(not isinstance(q.graph_name, ox.DefaultGraph) for q in ds.store.quads_for_pattern(s, None, None, None))


def test_a_checksum_matching_file_that_does_not_parse_is_rejected(good):
    config, first = good
    f = folder(config, first.dataset.version)
    garbage = b"<not an n-quads line\n"
    (f / "dataset.nq").write_bytes(garbage)
    meta_set(("cache", "files", "dataset.nq", "blake3"), blake3.blake3(garbage).hexdigest())(f / "meta.json")
    with pytest.raises(CacheError, match="does not parse"):
        verify(config.cache_dir, first.dataset.version)
    assert not build(config).cached


def test_a_forged_count_with_a_matching_checksum_is_rejected(good):
    """Truncated file and a meta.json rewritten to its checksum: the quad count still disagrees."""
    config, first = good
    f = folder(config, first.dataset.version)
    truncate_at_line(f / "dataset.nq")
    meta_set(("cache", "files", "dataset.nq", "blake3"), blake3.blake3((f / "dataset.nq").read_bytes()).hexdigest())(f / "meta.json")
    with pytest.raises(CacheError, match="quads, meta.json records"):
        verify(config.cache_dir, first.dataset.version)
    assert not build(config).cached


def test_meta_records_checksum_and_count(good):
    config, first = good
    meta = json.loads((folder(config, first.dataset.version) / "meta.json").read_text())
    entry = meta["cache"]["files"]["dataset.nq"]
    assert entry["quads"] == len(first.dataset.store) == meta["stats"]["quads"]
    assert "sha256" not in entry and len(entry["blake3"]) == 64 and meta["cache"]["version"] == first.dataset.version
    assert (config.cache_dir / "CURRENT").read_text().strip() == first.dataset.version
    # no temp folders or files left behind
    assert not [p.name for p in config.cache_dir.iterdir() if p.name.startswith(".")]


def test_a_garbage_pointer_file_is_ignored(good):
    config, first = good
    (config.cache_dir / "CURRENT").write_bytes(b"\xff\xfe../../etc\x00")
    assert build(config).cached
    break_inputs(config, "syntax")
    assert build(config, fallback=True).dataset.version == first.dataset.version


def test_an_unwritable_cache_is_one_line_not_a_traceback(mini_config, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    config = Config(root=mini_config.root, build_dir=blocked)
    with pytest.raises(BuildError, match="cannot save the build"):
        build(config)
    served = build(config, fallback=True)  # the server still gets the fresh build
    assert not served.stale and len(served.dataset.store) > 0


def test_cli_build_says_why_the_cache_was_rebuilt(good):
    config, first = good
    truncate_at_line(folder(config, first.dataset.version) / "dataset.nq")
    out = subprocess.run(CLI + ["--root", str(config.root), "--build-dir", str(config.cache_dir), "build"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "(cached)" not in out.stdout
    assert "rejected, rebuilding" in out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr


# -- kill -9 during a build never leaves a cache that verifies --------------------------------------

def test_kill_9_at_random_moments_never_leaves_a_cache_that_lies(mini_config):
    """Kill a CLI build at several moments; every folder that exists afterwards either verifies or
    is rejected (and rebuilt) by the next build, which then serves the full graph."""
    expected = None
    for delay in (0.3, 0.8, 1.5, 2.5, 4.0):
        proc = subprocess.Popen(CLI + ["--root", str(mini_config.root), "--build-dir", str(mini_config.cache_dir),
                                       "build", "--force"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        result = build(mini_config)
        expected = expected or len(result.dataset.store)
        assert len(result.dataset.store) == expected == result.dataset.meta["stats"]["quads"]
        verify(mini_config.cache_dir, result.dataset.version)


# -- broken inputs: the server serves the last good build, marked stale -----------------------------

def break_inputs(config: Config, how: str) -> None:
    path = config.triples_dir / "900_test.trig"
    if how == "syntax":
        path.write_text(MINI_TRIG.replace("ck:tenantOf id:test-park ;", "ck:tenantOf id:test-park id:oops ;"))
    elif how == "violation":
        path.write_text(MINI_TRIG.replace('"测试买家"@zh , "Test Buyer"@en', '"Test Buyer"@en'))
    else:
        raise ValueError(how)


@pytest.mark.parametrize("how", ["syntax", "violation"])
def test_fallback_serves_the_last_good_build_marked_stale(good, how, caplog):
    config, first = good
    break_inputs(config, how)
    with pytest.raises(BuildError):
        build(config)  # without fallback (CLI, exports, tests) a broken input still fails
    with caplog.at_level(logging.WARNING, logger="chainkg.build"):
        result = build(config, fallback=True)
    assert result.stale and result.dataset.stale
    assert result.dataset.version == first.dataset.version != result.inputs_version
    assert len(result.dataset.store) == len(first.dataset.store)
    assert result.error and result.dataset.build_error == result.error
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("LAST GOOD BUILD" in w and first.dataset.version in w for w in warnings), warnings
    assert any("build error:" in w for w in warnings) and len(warnings) >= 3
    if how == "syntax":
        assert any("900_test.trig:" in w and "syntax error" in w for w in warnings), warnings
    else:
        assert isinstance(pytest.raises(ValidationFailed, build, config).value, ValidationFailed)


def test_fallback_skips_a_corrupt_last_good_build(good, tmp_path):
    config, first = good
    # an older good build of other inputs
    path = config.triples_dir / "900_test.trig"
    path.write_text(MINI_TRIG + "\n# older inputs\n")
    older = build(config).dataset.version
    path.write_text(MINI_TRIG)
    newest = build(config).dataset.version  # cached again, CURRENT names the first version
    assert newest == first.dataset.version
    (config.cache_dir / "CURRENT").write_text(newest + "\n")
    truncate_at_line(folder(config, newest) / "dataset.nq")
    break_inputs(config, "syntax")
    result = build(config, fallback=True)
    assert result.stale and result.dataset.version == older


def test_fallback_without_any_good_build_raises(mini_config):
    break_inputs(mini_config, "syntax")
    with pytest.raises(BuildError, match="syntax error"):
        build(mini_config, fallback=True)


def test_cli_build_still_fails_on_broken_inputs_with_a_good_cache(good):
    config, _ = good
    break_inputs(config, "syntax")
    out = subprocess.run(CLI + ["--root", str(config.root), "--build-dir", str(config.cache_dir), "build"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "900_test.trig:" in out.stderr and "Traceback" not in out.stderr


def test_healthz_reports_degraded_with_version_and_error(good):
    from chainkg.web.app import create_app

    config, first = good
    ok = create_app(config, build(config).dataset).test_client().get("/healthz")
    assert ok.status_code == 200
    assert ok.json["status"] == "ok" and ok.json["inputs_built"] is True
    assert ok.json["quads"] == len(first.dataset.store)

    break_inputs(config, "syntax")
    stale = build(config, fallback=True)
    r = create_app(config, stale.dataset).test_client().get("/healthz")
    assert r.status_code == 200
    body = r.json
    assert body["status"] == "degraded" and body["inputs_built"] is False
    assert body["version"] == first.dataset.version
    assert "900_test.trig:" in body["error"] and "\n" not in body["error"]


def test_healthz_is_503_when_the_store_does_not_hold_what_was_built(good):
    from chainkg.web.app import create_app

    config, first = good
    loaded = FrozenDataset.load(config.cache_dir, first.dataset.version)
    ds = FrozenDataset(store=ox.Store(), version=loaded.version, meta=loaded.meta)  # the stats of a build, no quads
    r = create_app(config, ds).test_client().get("/healthz")
    assert r.status_code == 503 and r.json["status"] == "error" and r.json["quads"] == 0


def test_serve_with_broken_inputs_serves_the_last_good_build_and_says_so(good, tmp_path):
    """Over real HTTP: `chainkg serve` starts on the last good build, logs it loudly, and /healthz
    reports the version served and that the inputs did not build."""
    import requests

    from live_server import start_server

    config, first = good
    break_inputs(config, "syntax")
    server = start_server(["--workers", "1"], tmp_path / "server.log",
                          root_args=["--root", str(config.root), "--build-dir", str(config.cache_dir)])
    try:
        health = requests.get(server.url + "/healthz", timeout=10).json()
        assert health["status"] == "degraded" and health["inputs_built"] is False
        assert health["version"] == first.dataset.version
        assert "900_test.trig:" in health["error"]
        r = requests.get(server.sparql, params={"query": "ASK { ?s ?p ?o }"}, timeout=10)
        assert r.status_code == 200 and r.json()["boolean"] is True
        assert "LAST GOOD BUILD" in server.log_text()
    finally:
        server.stop()
