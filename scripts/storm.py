"""Storms against the real server while a normal query is probed every 0.5 s (issue 14). Not a test.

Starts `chainkg serve` (gunicorn + gevent, sandboxed evaluators) on a free loopback port, then for
each storm runs the attackers for --duration seconds next to a prober that sends a normal query
every 0.5 s, and prints the probe latencies (p50 / p95 / max), probe failures, the attackers'
status codes, and the peak RSS of each kind of server process (sampled every 0.2 s from /proc).

    python scripts/storm.py                      # every storm, 60 s each
    python scripts/storm.py --duration 20 --storm cpu --storm slow
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from live_server import start_server  # noqa: E402

PROBE = {"query": "SELECT ?s WHERE { ?s a <https://w3id.org/chainkg/ontology#Enterprise> } LIMIT 5"}
CPU = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
MEMORY = "SELECT DISTINCT ?a ?d ?c ?f { ?a ?b ?c . ?d ?e ?f } ORDER BY DESC(?f) LIMIT 5"
DEEP = ["SELECT * WHERE " + "{" * 6000 + "}" * 6000,
        "SELECT * WHERE { FILTER(" + "(" * 6000 + "1" + ")" * 6000 + ") }"]
BIG = "SELECT * WHERE { ?s ?p ?o FILTER(?o < <a#> || ?o < <a#> || ?o < <a#> || ?o < <a#>) } #" + "x" * 990_000


def _post(url: str, data, **kw) -> int:
    try:
        return requests.post(url, data=data, timeout=30, **kw).status_code
    except requests.RequestException as e:
        return -1 if "timed out" not in str(e) else -2


def storm_cpu(url, stop, codes):
    while not stop.is_set():
        codes[_post(url + "/sparql", {"query": CPU})] += 1


def storm_memory(url, stop, codes):
    while not stop.is_set():
        codes[_post(url + "/sparql", {"query": MEMORY})] += 1


def storm_deep(url, stop, codes):
    i = 0
    while not stop.is_set():
        codes[_post(url + "/sparql", {"query": DEEP[i % 2]})] += 1
        i += 1


def storm_body(url, stop, codes):
    while not stop.is_set():
        codes[_post(url + "/sparql", BIG.encode(), headers={"Content-Type": "application/sparql-query"})] += 1


def storm_notfound(url, stop, codes):
    slug = "qingdao-" * 1000
    while not stop.is_set():
        try:
            codes[requests.get(f"{url}/id/{slug}", timeout=30).status_code] += 1
        except requests.RequestException:
            codes[-1] += 1


def storm_slow(url, stop, codes, n: int = 100):
    host, port = url.rsplit("//", 1)[1].split(":")
    conns: list[socket.socket] = []
    while not stop.is_set():
        while len(conns) < n:  # keep n stalled clients open: half a head or half a body
            try:
                s = socket.create_connection((host, int(port)), timeout=5)
                s.sendall(b"GET /sparql HTTP/1.1\r\nHost: x\r\n" if len(conns) % 2 else
                          b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
                          b"Content-Length: 100\r\n\r\nASK")
                conns.append(s)
                codes["opened"] += 1
            except OSError:
                codes["refused"] += 1
                break
        time.sleep(0.5)
        alive = []
        for s in conns:  # the server closes them at its read timeout: open new ones
            s.setblocking(False)
            try:
                if s.recv(1) == b"":
                    s.close()
                    codes["closed by server"] += 1
                    continue
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                continue
            alive.append(s)
        conns = alive
    for s in conns:
        s.close()


STORMS = {"cpu": (storm_cpu, 8), "memory": (storm_memory, 4), "deep": (storm_deep, 4), "body": (storm_body, 4),
          "notfound": (storm_notfound, 16), "slow": (storm_slow, 1)}


def tree(pid: int, zygote: int) -> dict[int, str]:
    """pid -> kind for the server's process tree: master, zygote, evaluator (the zygote's children),
    worker (the master's other children)."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout.split()
    parent = {int(out[i]): int(out[i + 1]) for i in range(0, len(out), 2)}
    kinds = {pid: "master"}
    for child, pp in parent.items():
        if pp == pid:
            kinds[child] = "zygote" if child == zygote else "worker"
        elif pp == zygote:
            kinds[child] = "evaluator"
    return kinds


def rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def run_storm(url: str, server_pid: int, zygote: int, name: str, duration: float) -> dict:
    fn, clients = STORMS[name]
    stop = threading.Event()
    codes: Counter = Counter()
    threads = [threading.Thread(target=fn, args=(url, stop, codes), daemon=True) for _ in range(clients)]
    peak: dict[str, int] = Counter()
    latencies, failures = [], []

    def sample():
        while not stop.is_set():
            for pid, kind in tree(server_pid, zygote).items():
                peak[kind] = max(peak[kind], rss(pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    for t in threads:
        t.start()
    time.sleep(1.0)  # let the storm build up
    end = time.monotonic() + duration
    while time.monotonic() < end:
        t0 = time.monotonic()
        try:
            r = requests.get(url + "/sparql", params=PROBE, timeout=10)
            latencies.append(time.monotonic() - t0)
            if r.status_code != 200:
                failures.append(r.status_code)
        except requests.RequestException as e:
            failures.append(type(e).__name__)
        time.sleep(max(0.0, 0.5 - (time.monotonic() - t0)))
    stop.set()
    for t in threads:
        t.join(timeout=35)
    qs = sorted(latencies)
    return {"storm": name, "probes": len(latencies) + len(failures) - len([f for f in failures if isinstance(f, int)]),
            "p50": statistics.median(qs) if qs else float("nan"),
            "p95": qs[int(0.95 * (len(qs) - 1))] if qs else float("nan"), "max": qs[-1] if qs else float("nan"),
            "failures": failures, "codes": dict(codes), "peak": dict(peak)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds per storm (default 60)")
    ap.add_argument("--storm", action="append", choices=list(STORMS), help="storms to run (default: all)")
    ap.add_argument("--max-memory", type=int, default=1 << 30, help="the server's --max-memory (default 1 GiB)")
    args = ap.parse_args()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / "chainkg-storm-server.log"
    server = start_server(["--workers", "2", "--max-memory", str(args.max_memory)], log)
    zygote = int(re.search(r"isolated from the network by: .* \(pid (\d+)\)", server.log_text()).group(1))
    print(f"server {server.url} (pid {server.process.pid}), log {log}; probe every 0.5 s; {args.duration:g} s per storm")
    print(f"{'storm':10} {'probes':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'fail':>5}  "
          f"{'peak RSS MB (worker / evaluator / zygote)':>42}  attacker answers")
    try:
        for name in args.storm or list(STORMS):
            r = run_storm(server.url, server.process.pid, zygote, name, args.duration)
            mb = {k: f"{r['peak'].get(k, 0) / 1e6:.0f}" for k in ("worker", "evaluator", "zygote")}
            print(f"{name:10} {r['probes']:6d} {r['p50'] * 1000:8.1f} {r['p95'] * 1000:8.1f} {r['max'] * 1000:8.1f} "
                  f"{len(r['failures']):5d}  {mb['worker']:>14} / {mb['evaluator']:>9} / {mb['zygote']:>6}"
                  f"             {dict(sorted(r['codes'].items(), key=str))}", flush=True)
            if r["failures"]:
                print(f"           probe failures: {r['failures'][:10]}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
