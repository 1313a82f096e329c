"""Benchmark the SPARQL endpoint against Oxigraph's own server on the same data (not a test).

    .venv/bin/python scripts/benchmark_sparql.py [--duration 5] [--connections 16] [--server gunicorn|granian|both]

Exports the built dataset to N-Quads (`chainkg export`), loads it into `oxigraph serve-read-only
--union-default-graph`, starts `chainkg serve`, and runs the same lookup, two-hop, aggregation and
property-path queries against both with a bounded load generator (wrk when installed, else a
thread-based Python one), in two modes:

- cached:   the identical request repeated (our server answers from its result cache);
- uncached: every request carries a unique comment, so every one is parsed and evaluated (ad hoc).

It prints requests/s, p50, p99, the ratio to Oxigraph and the non-2xx counts.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PREFIXES = """PREFIX ck: <https://w3id.org/chainkg/ontology#>
PREFIX id: <https://w3id.org/chainkg/id/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
"""
QUERIES = {
    "lookup": "SELECT ?p ?o WHERE { id:qingdao ?p ?o }",
    "two-hop": "SELECT ?x ?label WHERE { ?x ck:locatedIn ?d . ?d ck:locatedIn id:qingdao . ?x rdfs:label ?label }",
    "aggregation": "SELECT ?class (COUNT(?s) AS ?n) WHERE { ?s a ?class } GROUP BY ?class ORDER BY DESC(?n)",
    "property-path": "SELECT ?x ?label WHERE { ?x ck:locatedIn+ id:qingdao ; rdfs:label ?label }",
}
ACCEPT = "application/sparql-results+json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status < 500:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server at {url} did not come up")


def wrk(url: str, duration: int, connections: int, unique: bool, workdir: Path) -> dict:
    script = workdir / "bench.lua"
    script.write_text(
        f'wrk.headers["Accept"] = "{ACCEPT}"\n'
        + ("counter = 0\nrequest = function()\n  counter = counter + 1\n"
           '  return wrk.format("GET", wrk.path .. "%0A%23" .. counter .. "-" .. math.random(1000000000))\nend\n'
           if unique else "")
        + "done = function(summary, latency, requests)\n"
        '  io.write(string.format("P50 %f\\nP99 %f\\n", latency:percentile(50), latency:percentile(99)))\nend\n')
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "-s", str(script), url],
                         capture_output=True, text=True, timeout=duration + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"rps": rps, "p50": float(re.search(r"P50 ([\d.]+)", out).group(1)) / 1000,
            "p99": float(re.search(r"P99 ([\d.]+)", out).group(1)) / 1000,
            "non2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": sum(int(x) for x in errors.groups()) if errors else 0}


def pyload(url: str, duration: int, connections: int, unique: bool, workdir: Path) -> dict:
    """A bounded thread-based load generator (when wrk is not installed); slower than wrk."""
    parsed = urllib.parse.urlsplit(url)
    deadline = time.time() + duration
    latencies: list[float] = []
    bad = [0]
    lock = threading.Lock()

    def client(n: int) -> None:
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
        i = 0
        while time.time() < deadline:
            i += 1
            path = parsed.path + "?" + parsed.query + (f"%0A%23{n}-{i}" if unique else "")
            t = time.perf_counter()
            conn.request("GET", path, headers={"Accept": ACCEPT})
            r = conn.getresponse()
            r.read()
            with lock:
                latencies.append(time.perf_counter() - t)
                if r.status >= 300:
                    bad[0] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    return {"rps": len(latencies) / duration, "p50": statistics.median(latencies) * 1000,
            "p99": latencies[int(len(latencies) * 0.99)] * 1000, "non2xx": bad[0], "socket_errors": 0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=5, help="seconds per run")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--server", choices=["gunicorn", "granian", "both"], default="gunicorn")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--modes", default="cached,uncached")
    args = ap.parse_args()
    load = wrk if shutil.which("wrk") else pyload
    chainkg, oxigraph = str(BIN / "chainkg"), str(BIN / "oxigraph")
    procs: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="chainkg-bench-") as tmp:
        work = Path(tmp)
        try:
            subprocess.run([chainkg, "export", "--format", "nquads", "--out", str(work / "data.nq")], check=True,
                           cwd=ROOT, stdout=subprocess.DEVNULL)
            subprocess.run([oxigraph, "load", "--location", str(work / "ox"), "--file", str(work / "data.nq")],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            ox_port = free_port()
            procs.append(subprocess.Popen([oxigraph, "serve-read-only", "--location", str(work / "ox"), "--bind",
                                           f"127.0.0.1:{ox_port}", "--union-default-graph"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            targets = {"oxigraph": f"http://127.0.0.1:{ox_port}/query"}
            wait_for(targets["oxigraph"] + "?query=ASK%7B%7D")
            for server in (["gunicorn", "granian"] if args.server == "both" else [args.server]):
                port = free_port()
                procs.append(subprocess.Popen(
                    [chainkg, "serve", "--port", str(port), "--workers", str(args.workers), "--threads",
                     str(args.threads), "--server", server, "--max-rows", "100000", "--timeout", "30"],
                    cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(work / f"{server}.log", "w")))
                targets[server] = f"http://127.0.0.1:{port}/sparql"
                wait_for(f"http://127.0.0.1:{port}/healthz")
            print(f"load generator: {load.__name__}, {args.connections} connections, {args.duration} s per run, "
                  f"{os.cpu_count()} CPUs; ours: {args.workers} workers x {args.threads} threads\n")
            print(f"{'query':14} {'mode':9} {'server':9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6} {'non-2xx':>8}")
            for name, body in QUERIES.items():
                query = urllib.parse.quote(PREFIXES + body)
                sizes = {}
                for target, base in targets.items():
                    req = urllib.request.Request(f"{base}?query={query}", headers={"Accept": ACCEPT})
                    with urllib.request.urlopen(req) as r:
                        sizes[target] = r.read().count(b'"type"')
                if len(set(sizes.values())) != 1:
                    print(f"  warning: {name} answers differ in size: {sizes}")
                for mode in args.modes.split(","):
                    base_rps = None
                    for target, base in targets.items():
                        r = load(f"{base}?query={query}", args.duration, args.connections, mode == "uncached", work)
                        base_rps = base_rps or r["rps"]
                        ratio = r["rps"] / base_rps
                        print(f"{name:14} {mode:9} {target:9} {r['rps']:9.0f} {r['p50']:8.2f} {r['p99']:8.2f} "
                              f"{ratio:6.2f} {r['non2xx'] + r['socket_errors']:8d}", flush=True)
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()


if __name__ == "__main__":
    main()
