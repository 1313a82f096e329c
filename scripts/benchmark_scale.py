#!/usr/bin/env python
"""Scale benchmark (not a test; issue #11): build and serve synthetic chain graphs of growing size.

    .venv/bin/python scripts/benchmark_scale.py                  # 20k, 50k, 100k: a few minutes
    .venv/bin/python scripts/benchmark_scale.py --big            # adds 250k, 500k and 1M
    .venv/bin/python scripts/benchmark_scale.py --sizes 1e6 --no-serve

For each size N, scripts/generate_graph.py writes a project folder, then, each in a fresh process:

- cold build (`chainkg --root DIR build`): the stage times it prints, its wall time and the peak
  RSS of that process (os.wait4's rusage: the child itself, not the benchmark);
- cached restart: a new process that hashes the inputs and loads the verified cache;
- rebuild after editing one article file (a note added to one claim of one replica's file);
- serving (unless --no-serve): `chainkg serve` and `oxigraph serve-read-only --union-default-graph`
  on the same N-Quads, uncached lookup, two-hop, aggregation and property-path queries through the
  load generator of scripts/benchmark_sparql.py; requests/s and the ratio to Oxigraph.

Other jobs share this machine's cores: read ratios and orders of magnitude, not absolutes.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "scripts"))

import benchmark_sparql as bs  # noqa: E402

from chainkg.sparql.sandbox import children, smaps_rollup  # noqa: E402

DEFAULT_SIZES = ("2e4", "5e4", "1e5")  # one replica of the real graph is about 11k
BIG_SIZES = ("2.5e5", "5e5", "1e6")
MB = 1 << 20
# the stage lines `chainkg build` prints; its second "validate" line (after reasoning) is "closure"
STAGES = ("load", "validate", "figures", "reason", "trace", "closure", "freeze", "saved")
RESTART = (
    "import time; t=time.perf_counter(); from pathlib import Path; from chainkg.config import Config; "
    "from chainkg.build.pipeline import build; r=build(Config(root=Path({root!r}), build_dir=Path({b!r}))); "
    "assert r.cached; print(time.perf_counter()-t)"
)


def run_measured(cmd: list[str], **kwargs) -> tuple[str, float, float, float]:
    """Run a command; (stdout + stderr, wall seconds, peak RSS of its largest process in GB, peak of
    the PSS summed over the process and its children in GB). The build forks children that check
    the data beside the parent (chainkg.build.forked): os.wait4's ru_maxrss is the largest of them
    alone, so a sampler also adds up their proportional set sizes (shared pages counted once)
    every second (reading smaps_rollup walks the page tables: more often slowed the build it measures)."""
    import threading

    t = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, **kwargs)
        tree_peak, done = [0], threading.Event()

        def sample():
            while not done.wait(1.0):
                pids, i = [proc.pid], 0
                while i < len(pids):
                    pids += children(pids[i])
                    i += 1
                tree_peak[0] = max(tree_peak[0], sum(smaps_rollup(p).get("Pss", 0) for p in pids))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _pid, status, usage = os.wait4(proc.pid, 0)
        done.set()
        sampler.join()
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{text[-3000:]}")
    return text, wall, usage.ru_maxrss / 1024 / 1024, tree_peak[0] / (1 << 30)  # ru_maxrss is in KiB on Linux


def stage_times(text: str) -> dict:
    out = {}
    for m in re.finditer(r"^(\w+)\s+([\d.]+)s(.*)$", text, re.MULTILINE):
        stage = "closure" if m.group(1) == "validate" and "after reasoning" in m.group(3) else m.group(1)
        if stage in STAGES and stage not in out:
            out[stage] = float(m.group(2))
    return out


def edit_one_article(project: Path) -> Path:
    """Add a note to the first claim of one replica's file: an article edit the build must take in."""
    files = sorted((project / "triples").glob("001_r*.trig"))
    path = files[len(files) // 2]
    text = path.read_text(encoding="utf-8")
    claim = re.search(r"^(<https://w3id.org/chainkg/claim/[^>]+>) \{", text, re.MULTILINE).group(1)
    path.write_text(text + f'{claim} <https://w3id.org/chainkg/ontology#note> "edited by benchmark_scale.py"@en .\n',
                    encoding="utf-8")
    return path


def _smaps(pid: int) -> dict:
    """RSS, PSS, private (clean + dirty) and anonymous memory of one process, in MB."""
    fields = smaps_rollup(pid)
    if not fields:
        return {}
    return {"rss": fields.get("Rss", 0) / MB, "pss": fields.get("Pss", 0) / MB, "private": fields["Private"] / MB,
            "anon": fields.get("Anonymous", 0) / MB}


def server_memory(master: int) -> dict:
    """Memory of each process of a running `chainkg serve`: the master, the zygote (the child with
    children), its evaluators, and the web workers. "private" is what a process holds alone: the
    cost of one more worker."""
    roles: dict = {"master": [_smaps(master)], "zygote": [], "evaluator": [], "worker": []}
    for child in children(master):
        grandchildren = children(child)
        if grandchildren:
            roles["zygote"].append(_smaps(child))
            roles["evaluator"] += [_smaps(g) for g in grandchildren]
        else:
            roles["worker"].append(_smaps(child))
    return {role: [m for m in ms if m] for role, ms in roles.items()}


def print_memory(memory: dict) -> None:
    for role, ms in memory.items():
        for m in ms:
            print(f"   memory {role:9} RSS {m['rss']:7.0f} MB  PSS {m['pss']:7.0f} MB  private {m['private']:7.0f} MB"
                  f"  anonymous {m['anon']:7.0f} MB", flush=True)


def throughput(project: Path, build_dir: Path, work: Path, duration: int, connections: int) -> dict:
    """Uncached requests/s of ours and of Oxigraph's server on the same N-Quads, per query; the
    memory of each process of our server after the runs (under "memory")."""
    chainkg, oxigraph = str(BIN / "chainkg"), str(BIN / "oxigraph")
    procs: list[subprocess.Popen] = []
    load = bs.wrk if bs.shutil.which("wrk") else bs.pyload
    try:
        nq = work / "data.nq"
        subprocess.run([chainkg, "--root", str(project), "--build-dir", str(build_dir), "export", "--format", "nquads",
                        "--out", str(nq)], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([oxigraph, "load", "--location", str(work / "ox"), "--file", str(nq)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ox_port, our_port = bs.free_port(), bs.free_port()
        procs.append(subprocess.Popen([oxigraph, "serve-read-only", "--location", str(work / "ox"), "--bind",
                                       f"127.0.0.1:{ox_port}", "--union-default-graph"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen([chainkg, "--root", str(project), "--build-dir", str(build_dir), "serve",
                                       "--port", str(our_port), "--workers", "2", "--max-rows", "100000",
                                       "--timeout", "30"], stdout=subprocess.DEVNULL,
                                      stderr=open(work / "serve.log", "w")))
        targets = {"oxigraph": f"http://127.0.0.1:{ox_port}/query", "chainkg": f"http://127.0.0.1:{our_port}/sparql"}
        bs.wait_for(targets["oxigraph"] + "?query=ASK%7B%7D", 600)
        bs.wait_for(f"http://127.0.0.1:{our_port}/healthz", 600)
        results = {}
        for name, body in bs.QUERIES.items():
            query = urllib.parse.quote(bs.PREFIXES + body)
            rps = {}
            for target, base in targets.items():
                with urllib.request.urlopen(urllib.request.Request(f"{base}?query={query}",
                                                                   headers={"Accept": bs.ACCEPT}), timeout=60) as r:
                    r.read()
                try:
                    rps[target] = load(f"{base}?query={query}", duration, connections, True, work)["rps"]
                except subprocess.TimeoutExpired:  # a server that cannot answer within the load run's margin
                    print(f"   {name}: {target} timed out", flush=True)
                    rps[target] = 0.0
            results[name] = rps
        memory = server_memory(procs[1].pid)
        print_memory(memory)
        return results, memory
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="*", help="asserted triples per run (default 2e4 5e4 1e5)")
    ap.add_argument("--big", action="store_true", help="also 250k, 500k and 1M (about half an hour)")
    ap.add_argument("--no-serve", action="store_true", help="skip the throughput runs")
    ap.add_argument("--no-rebuild", action="store_true", help="skip the rebuild after editing one article")
    ap.add_argument("--duration", type=int, default=5, help="seconds per throughput run")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--keep", type=Path, help="write the projects and builds here instead of a temporary folder")
    ap.add_argument("--serve-only", action="store_true",
                    help="with --keep: serve the project and build already there (made by an earlier run) and "
                         "measure throughput and memory only")
    args = ap.parse_args()
    if args.serve_only and not args.keep:
        ap.error("--serve-only needs --keep DIR (the folder of an earlier run)")
    sizes = [int(float(s)) for s in (args.sizes or (DEFAULT_SIZES + (BIG_SIZES if args.big else ())))]
    python, chainkg = sys.executable, str(BIN / "chainkg")
    rows = []
    with tempfile.TemporaryDirectory(prefix="chainkg-scale-") as tmp:
        base = args.keep or Path(tmp)
        for n in sizes:
            project, build_dir, work = base / f"g{n}", base / f"b{n}", base / f"w{n}"
            work.mkdir(parents=True, exist_ok=True)
            print(f"\n== {n:,}: load average {_loadavg()} at the start", flush=True)
            if args.serve_only:
                if not (build_dir / "CURRENT").is_file():
                    raise SystemExit(f"--serve-only: {build_dir} holds no finished build")
                tput, memory = throughput(project, build_dir, work, args.duration, args.connections)
                for name, rps in tput.items():
                    print(f"   {name:14} chainkg {rps['chainkg']:8.0f} req/s   oxigraph {rps['oxigraph']:8.0f} req/s"
                          f"   ratio {_ratio(rps):.2f}", flush=True)
                print(f"   load average {_loadavg()} at the end", flush=True)
                continue
            gen, *_ = run_measured([python, str(ROOT / "scripts" / "generate_graph.py"), str(n), str(project)])
            asserted = int(gen.split(" asserted")[0].replace(",", ""))
            text, cold, rss, tree = run_measured([chainkg, "--root", str(project), "--build-dir", str(build_dir), "build",
                                            "--force"])
            stages = stage_times(text)
            restart_out, restart_wall, restart_rss, _ = run_measured(
                [python, "-c", RESTART.format(root=str(project), b=str(build_dir))])
            edited, rebuild = Path("(skipped)"), None
            if not args.no_rebuild:
                edited = edit_one_article(project)
                _text, rebuild, *_ = run_measured([chainkg, "--root", str(project), "--build-dir", str(build_dir),
                                                     "build"])
            row = {"n": asserted, **stages, "build": cold, "rss": rss, "tree": tree, "restart": float(restart_out.split()[-1]),
                   "restart_rss": restart_rss, "rebuild": rebuild, "edited": edited.name}
            print(f"\n== {asserted:,} asserted triples: cold build {cold:.1f} s "
                  f"({', '.join(f'{k} {v:.1f}' for k, v in stages.items())}), peak RSS {rss:.2f} GB "
                  f"(its processes together: PSS {tree:.2f} GB); "
                  f"cached restart {row['restart']:.2f} s ({restart_rss:.2f} GB); "
                  + ("no rebuild (--no-rebuild)" if rebuild is None else f"rebuild after editing {edited.name}: {rebuild:.1f} s"),
                  flush=True)
            if not args.no_serve:
                tput, memory = throughput(project, build_dir, work, args.duration, args.connections)
                row["throughput"], row["memory"] = tput, memory
                for name, rps in tput.items():
                    print(f"   {name:14} chainkg {rps['chainkg']:8.0f} req/s   oxigraph {rps['oxigraph']:8.0f} req/s"
                          f"   ratio {_ratio(rps):.2f}", flush=True)
            print(f"   load average {_loadavg()} at the end", flush=True)
            rows.append(row)
    print("\n| asserted triples | load | validate | reason | trace | validate after reasoning | freeze | save "
          "| whole build | peak RSS (largest process; all processes' PSS) "
          "| cached restart | rebuild after one edit | throughput ratio (min over queries) "
          "| per web worker PSS / private | per evaluator private |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = min((_ratio(v) for v in r["throughput"].values()), default=None) \
            if "throughput" in r else None
        rebuild = "not run" if r["rebuild"] is None else f"{r['rebuild']:.1f} s"
        print(f"| {r['n']:,} | {r.get('load', 0):.1f} s | {r.get('validate', 0):.1f} s | {r.get('reason', 0):.1f} s "
              f"| {r.get('trace', 0):.1f} s | {r.get('closure', 0):.1f} s "
              f"| {r.get('freeze', 0):.1f} s | {r.get('saved', 0):.1f} s | {r['build']:.1f} s | {r['rss']:.2f} GB; {r['tree']:.2f} GB "
              f"| {r['restart']:.2f} s, {r['restart_rss']:.2f} GB | {rebuild} "
              f"| {'-' if ratio is None else f'{ratio:.2f}'} | {_worst(r, 'worker', 'pss')} / {_worst(r, 'worker', 'private')} "
              f"| {_worst(r, 'evaluator', 'private')} |")


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _ratio(rps: dict) -> float:
    return rps["chainkg"] / rps["oxigraph"] if rps["oxigraph"] else float("inf")


def _worst(row: dict, role: str, key: str) -> str:
    values = [m[key] for m in row.get("memory", {}).get(role, [])]
    return f"{max(values):.0f} MB" if values else "-"


if __name__ == "__main__":
    main()
