"""Precision and recall of `chainkg link` on the labelled pairs of tests/fixtures/link/labelled.csv.

    python scripts/benchmark_link.py

Builds the project (with its GB/T 2260 import) and the Example City fixture project
(tests/fixtures/second_city, FIXTURE data) in temporary folders, scores every labelled pair as the
linker does, and prints the counts, precision, recall and any pair it gets wrong. A pair counts as
linked when the linker would accept it as skos:exactMatch.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "server"))

from chainkg.build.pipeline import build  # noqa: E402
from chainkg.config import Config  # noqa: E402
from chainkg.integrate import link  # noqa: E402


def fixture_project(folder: Path) -> Path:
    root = folder / "example-city"
    shutil.copytree(ROOT / "tests/fixtures/second_city/triples", root / "triples")
    for sub in ("ontology", "shapes"):
        shutil.copytree(ROOT / sub, root / sub)
    (root / "queries").mkdir()
    return root


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        ours = build(Config(root=ROOT, build_dir=Path(tmp) / "build")).dataset
        city = build(Config(root=fixture_project(Path(tmp)))).dataset
        built = time.perf_counter() - t
        lookup = {**link.things(ours, "https://w3id.org/chainkg/"), **link.things(city, "https://example.org/")}
        pairs = link.read_labelled(ROOT / "tests/fixtures/link/labelled.csv")
        t = time.perf_counter()
        r = link.evaluate(pairs, lookup)
        scored = time.perf_counter() - t
    positives = sum(1 for p in pairs if p["match"] == "1")
    print(f"labelled pairs: {r['pairs']} ({positives} matches, {r['pairs'] - positives} non-matches incl. "
          f"{sum(1 for p in pairs if 'group' in p['note'] or 'subsidiary' in p['note'] or 'branch' in p['note'])} "
          "group/subsidiary/branch pairs)")
    print(f"accepted as skos:exactMatch: tp {r['tp']}  fp {r['fp']}  fn {r['fn']}  tn {r['tn']}")
    print(f"precision {r['precision']:.3f}  recall {r['recall']:.3f}")
    for ours_iri, theirs_iri, s, why in r["wrong"]:
        print(f"  wrong: {ours_iri} / {theirs_iri} score {s:.2f}: {why}")
    print(f"(builds {built:.1f}s, scoring {scored * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
