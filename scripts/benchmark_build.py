#!/usr/bin/env python
"""Benchmark of the build (not a test): stage timings of a cold build with each reasoner,
side by side, and the cached restart, measured in this run on this machine.

    .venv/bin/python scripts/benchmark_build.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chainkg.build.load import load
from chainkg.build.pipeline import build, run_stages
from chainkg.build.reason import data_inferences, reason
from chainkg.config import Config

RESTART = (
    "import time; t=time.perf_counter(); from pathlib import Path; from chainkg.config import Config; "
    "from chainkg.build.pipeline import build; r=build(Config(build_dir=Path({d!r}))); "
    "assert r.cached; print(time.perf_counter()-t)"
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    print(f"python {sys.version.split()[0]}; inputs under {Config().root}")
    inputs = load(Config())
    n = sum(len(g) for g in inputs.graphs.values())
    print(f"asserted + ontology: {n} triples in {len(inputs.graphs)} graphs\n")

    print(f"cold build, stage timings in seconds (median of {args.repeat})")
    print(f"{'reasoner':<12}{'load':>8}{'validate':>10}{'reason':>9}{'freeze':>9}{'total':>9}{'inferred':>10}")
    totals = {}
    for engine in ("reasonable", "owlrl"):
        runs = []
        for _ in range(args.repeat if engine == "reasonable" else 1):
            cfg = Config(reasoner=engine)
            res = run_stages(cfg, "bench")
            runs.append(res)
        med = {k: statistics.median(r.timings[k] for r in runs) for k in runs[0].timings}
        total = sum(med.values())
        totals[engine] = total
        inferred = runs[0].dataset.meta["stats"]["inferred_triples"]
        print(f"{engine:<12}{med['load']:8.2f}{med['validate']:10.2f}{med['reason']:9.2f}{med['freeze']:9.2f}{total:9.2f}{inferred:10d}")
    print(f"owlrl / reasonable total: {totals['owlrl'] / totals['reasonable']:.1f}x")

    union = inputs.union()
    t = time.perf_counter()
    a = data_inferences(reason(union, "reasonable"))
    ta = time.perf_counter() - t
    t = time.perf_counter()
    b = data_inferences(reason(union, "owlrl"))
    tb = time.perf_counter() - t
    print(f"\nreasoning alone: reasonable {ta:.2f}s, owlrl {tb:.2f}s ({tb / ta:.0f}x); "
          f"data inferences {len(a)} vs {len(b)}, agree: {a == b}")

    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        build(Config(build_dir=Path(d)))
        cold = time.perf_counter() - t
        restarts = []
        for _ in range(args.repeat):
            out = subprocess.run([sys.executable, "-c", RESTART.format(d=d)], capture_output=True, text=True, check=True)
            restarts.append(float(out.stdout.strip()))
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", "import chainkg.build.pipeline"], check=True)
        imports = time.perf_counter() - t
    print(f"\ncold build (default engine, incl. save): {cold:.2f}s  [goal <= 5 s]")
    print(f"cached restart in a fresh process (hash inputs + load N-Quads): median {statistics.median(restarts):.3f}s  [goal <= 0.5 s]")
    print(f"(python start + import of chainkg.build.pipeline alone: {imports:.3f}s)")
    _ = proc


if __name__ == "__main__":
    main()
