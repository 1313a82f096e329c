"""The build: load -> validate -> reason -> freeze, one direction, cached by input hash.

Nothing is saved unless every step passed, so a failed build never replaces a good cache and
never reaches a server or an export.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from chainkg.build.dataset import FrozenDataset, freeze
from chainkg.build.load import INFERRED_GRAPH, Inputs, inputs_hash, load
from chainkg.config import Config


class BuildError(Exception):
    """The build stopped; str() is the readable reason."""


class ValidationFailed(BuildError):
    def __init__(self, report):
        self.report = report
        super().__init__(report.format())


@dataclass
class BuildResult:
    dataset: FrozenDataset
    cached: bool
    timings: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)


def _say(progress, msg):
    if progress:
        progress(msg)


def run_stages(config: Config, version: str, progress: Callable | None = None) -> BuildResult:
    from chainkg.build.load import LoadError
    from chainkg.build.reason import InconsistencyError, reason
    from chainkg.build.validate import validate

    timings: dict[str, float] = {}
    t = time.perf_counter()
    try:
        inputs: Inputs = load(config)
    except LoadError as e:
        raise BuildError(str(e)) from None
    timings["load"] = time.perf_counter() - t
    n_asserted = sum(len(g) for g in inputs.graphs.values())
    _say(progress, f"load      {timings['load']:6.2f}s  {len(inputs.graphs)} graphs, {n_asserted} triples")

    t = time.perf_counter()
    report = validate(inputs, config)
    timings["validate"] = time.perf_counter() - t
    _say(progress, f"validate  {timings['validate']:6.2f}s  {len(report.violations)} violations, {len(report.warnings)} warnings")
    if not report.conforms:
        raise ValidationFailed(report)

    t = time.perf_counter()
    union = inputs.union(include_ontology=True)
    try:
        inferred = reason(union, config.reasoner)
    except InconsistencyError as e:
        raise BuildError(f"inconsistent data ({config.reasoner}): {e}") from None
    timings["reason"] = time.perf_counter() - t
    _say(progress, f"reason    {timings['reason']:6.2f}s  {len(inferred)} inferred triples ({config.reasoner})")

    t = time.perf_counter()
    graphs = dict(inputs.graphs)
    graphs[INFERRED_GRAPH] = inferred
    meta = {"reasoner": config.reasoner, "timings": timings}
    dataset = freeze(graphs, version, meta)
    timings["freeze"] = time.perf_counter() - t
    _say(progress, f"freeze    {timings['freeze']:6.2f}s  {len(dataset.store)} quads")
    return BuildResult(dataset=dataset, cached=False, timings=timings, warnings=report.warnings)


def build(config: Config, *, force: bool = False, progress: Callable | None = None) -> BuildResult:
    """The dataset for the current inputs: from the cache when the inputs are unchanged."""
    t0 = time.perf_counter()
    version = inputs_hash(config)
    if not force:
        cached = FrozenDataset.load(config.cache_dir, version)
        if cached is not None:
            elapsed = time.perf_counter() - t0
            _say(progress, f"cached    {elapsed:6.2f}s  version {version}, {len(cached.store)} quads")
            return BuildResult(dataset=cached, cached=True, timings={"cached_load": elapsed})
    result = run_stages(config, version, progress)
    t = time.perf_counter()
    result.dataset.save(config.cache_dir)
    result.timings["save"] = time.perf_counter() - t
    result.timings["total"] = time.perf_counter() - t0
    _say(progress, f"saved     {result.timings['save']:6.2f}s  version {version} in {config.cache_dir}")
    return result
