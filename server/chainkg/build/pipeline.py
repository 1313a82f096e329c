"""The build: load -> validate -> reason -> freeze, one direction, cached by input hash.

Nothing is saved unless every step passed, so a failed build never replaces a good cache and
never reaches a server or an export. A cache folder is used only when it proves itself (the
checksum and quad count in its meta.json match); anything else is rebuilt, and the log says why.
With `fallback=True` (the server's call) broken inputs do not stop the server: the newest cached
build that verifies is served instead, marked stale, and the log says so loudly.
"""

from __future__ import annotations

import gc
import logging
import os
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from chainkg.build.dataset import AssertedAhead, CacheError, FrozenDataset, cached_versions
from chainkg.build.forked import Forked, Spawned, StepDied, fork_enabled
from chainkg.build.load import INFERRED_GRAPH, Inputs, inputs_hash, load
from chainkg.config import Config


class BuildError(Exception):
    """The build stopped; str() is the readable reason."""


class ValidationFailed(BuildError):
    def __init__(self, report):
        self.report = report
        super().__init__(report.format())


class FiguresDisagree(BuildError):
    """A figure disagrees with its own wording, or its wording with the claim's quote
    (chainkg.build.consistency); `disagreements`: [(file, line, Disagreement)]."""

    def __init__(self, disagreements: list):
        self.disagreements = disagreements
        lines = [f"{file}:{line}: {d}" if line else f"{file}: {d}" for file, line, d in disagreements]
        super().__init__(
            f"{len(disagreements)} figure(s) disagree with their own words (claim: kind: what differs; the "
            "wording; the quote):\n" + "\n".join(lines)
            + "\nFix the value, unit or qualifier, or the wording; `python -m chainkg.build.consistency` lists them.")


log = logging.getLogger("chainkg.build")


def check_figures(inputs: Inputs) -> tuple[int, list]:
    """The claim-consistency check (chainkg.build.consistency) as a build step: one SPARQL query
    over the loaded quads in Oxigraph (no rdflib graphs), then the parser per figure. Returns the
    number of figures and [(file, line, Disagreement)], where file and line are the claim's
    ck:originalWording in its .trig file."""
    from rdflib import Literal, URIRef

    from chainkg.build.check import SourceText
    from chainkg.build.consistency import _FIGURES, CK, _check_rows
    from chainkg.build.dataset import term_value

    rows = []
    for solution in inputs.store().query(_FIGURES):
        row = {}
        for name in ("claim", "q", "w", "v", "max", "u", "qual", "quote"):
            term = solution[name]
            if term is not None:
                row[name] = term_value(term)
        rows.append(row)
    found = sorted(_check_rows(rows), key=lambda d: (d.claim, d.wording, d.kind))
    out, texts = [], {}
    for d in found:
        files = inputs.origin.get(URIRef(d.claim)) or [""]
        file = str(files[0])
        line = None
        if file:
            text = texts.setdefault(file, SourceText(files[0]))
            line = text.line_of(URIRef(d.claim), URIRef(CK + "originalWording"), Literal(d.wording))
        out.append((file, line, d))
    return len({(r["claim"], r["q"], r["w"]) for r in rows}), out


@dataclass
class BuildResult:
    """`stale`: the inputs did not build and `dataset` is the last good build (version
    `dataset.version`, not the inputs' `inputs_version`); `error` says why the inputs failed."""

    dataset: FrozenDataset
    cached: bool
    timings: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    stale: bool = False
    error: str | None = None
    inputs_version: str | None = None


def _say(progress, msg):
    if progress:
        progress(msg)


@dataclass
class _Checks:
    """What the checks of the asserted data (run in a forked child) hand back: `outcome` "ok",
    "invalid" (a violation), "disagree" (figures against their words) or "unusable" (the shapes
    cannot be used: `message`, the loader's one line)."""

    outcome: str
    report: object = None
    disagreements: list = field(default_factory=list)
    future_warnings: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    lines: list = field(default_factory=list)  # progress lines, printed by the parent
    message: str = ""
    asserted: dict | None = None  # AssertedAhead.write's result, when the store was written ahead


def _check_inputs(inputs: Inputs, config: Config, ahead: AssertedAhead | None = None) -> _Checks:
    """The checks of the asserted data, in the forked child: SHACL, then the figures against their
    wording, then the tense of actual figures (W10); a failure stops there. When they pass and
    `ahead` is given, the asserted on-disk store is written too (the parent is still reasoning)."""
    from chainkg.build import tense
    from chainkg.build.load import LoadError
    from chainkg.build.validate import validate

    out = _Checks("ok")
    t = time.perf_counter()
    try:
        out.report = validate(inputs, config)
    except LoadError as e:  # a shapes file that does not parse or cannot be used
        out.outcome, out.message = "unusable", str(e)
        return out
    out.report.results_graph = None  # the report graph stays here: the build reads the findings only
    out.timings["validate"] = time.perf_counter() - t
    out.lines.append(f"validate  {out.timings['validate']:6.2f}s  {len(out.report.violations)} violations, "
                     f"{len(out.report.warnings)} warnings")
    if not out.report.conforms:
        out.outcome = "invalid"
        return out
    t = time.perf_counter()
    n_figures, out.disagreements = check_figures(inputs)
    out.timings["consistency"] = time.perf_counter() - t
    out.lines.append(f"figures   {out.timings['consistency']:6.2f}s  {n_figures} figures agree with their wording "
                     "and quotes" if not out.disagreements else
                     f"figures   {out.timings['consistency']:6.2f}s  {len(out.disagreements)} disagreement(s)")
    if out.disagreements:
        out.outcome = "disagree"
        return out
    out.future_warnings = tense.check(inputs)  # W10: actual figures in future-worded clauses
    out.timings["consistency"] = time.perf_counter() - t
    if ahead is not None:
        from chainkg.build.dataset import CacheError

        t = time.perf_counter()
        try:
            out.asserted = ahead.write(inputs.store(), inputs.union_store(include_ontology=True))
            done = f"the asserted store written beside reasoning, {out.asserted['entry']['quads']} quads"
        except (OSError, CacheError) as e:  # not a failure of the build: save writes it as before
            done = f"the asserted store could not be written ahead ({e}): it is written with the rest"
        out.timings["asserted_store"] = time.perf_counter() - t
        out.lines.append(f"store     {out.timings['asserted_store']:6.2f}s  {done}")
    return out


def _checked(checking: Forked, timings: dict, progress) -> _Checks:
    """The child's checks, passed; raises the BuildError they call for. An
    unexpected exception in them comes as StepFailed (kind, message, the child's traceback), not
    as a BuildError: a bug is not a bad input, and a server does not fall back on it."""
    try:
        checks: _Checks = checking.result()
    except StepDied as e:
        raise BuildError(str(e)) from None
    if checks.outcome == "unusable":
        raise BuildError(checks.message)
    timings.update(checks.timings)
    for line in checks.lines:
        _say(progress, line)
    if checks.outcome == "invalid":
        raise ValidationFailed(checks.report)
    if checks.outcome == "disagree":
        raise FiguresDisagree(checks.disagreements)
    return checks


def _timed(since: float, step, *args) -> tuple:
    """(step(*args), the seconds since `since`, a time.perf_counter() reading)."""
    return step(*args), time.perf_counter() - since


def run_stages(config: Config, version: str, progress: Callable | None = None,
               ahead: AssertedAhead | None = None) -> BuildResult:
    """The stages, in memory: the frozen dataset, not saved. With `ahead`, the asserted on-disk
    store is written beside reasoning (for `FrozenDataset.save`)."""
    from chainkg.build.load import LoadError
    from chainkg.build.reason import InconsistencyError, clean, closure_of

    timings: dict[str, float] = {}
    t = time.perf_counter()
    try:
        inputs: Inputs = load(config)
    except LoadError as e:
        raise BuildError(str(e)) from None
    timings["load"] = time.perf_counter() - t
    n_asserted = inputs.count()
    _say(progress, f"load      {timings['load']:6.2f}s  {len(inputs.quads)} graphs, {n_asserted} triples")

    # the checks of the asserted data need nothing from reasoning: a forked child runs them on the
    # second core while this process integrates the imports and reasons; their outcome is read (and
    # any failure raised, before a failure of reasoning) once the closure is there
    inputs.store(), inputs.union_store(include_ontology=True)  # built once, before the fork: shared by both
    changes_at_fork = len(inputs.changes)
    checking = Forked(partial(_check_inputs, inputs, config, ahead))
    lines = []
    try:
        # -- issue #10: declared imports and reviewed links join the asserted graphs (chainkg.integrate.step)
        from chainkg.integrate.imports import imports_version
        from chainkg.integrate.step import ImportProblem, integrate

        try:
            ext = integrate(config, inputs)
        except ImportProblem as e:
            raise BuildError(str(e)) from None
        if ext:
            lines.append(f"imports   {len(ext.prepared)} graphs, {sum(p.triples for p in ext.prepared)} triples; "
                         f"{len(ext.links)} linksets")
        # -- end issue #10

        t = time.perf_counter()
        try:
            closure, asserted = closure_of(inputs.union_store(include_ontology=True), config.reasoner)
        except InconsistencyError as e:
            raise BuildError(f"inconsistent data ({config.reasoner}): {e}") from None
        inferred = clean(closure, asserted)
        if config.reasoner == "owlrl":  # its rdflib Graph is a reference cycle: free it now, not at the end
            gc.collect()
        timings["reason"] = time.perf_counter() - t
        lines.append(f"reason    {timings['reason']:6.2f}s  {len(inferred)} inferred triples ({config.reasoner})")
    except Exception:
        _checked(checking, timings, progress)  # the inputs' own failure first, when they have one
        for line in lines:
            _say(progress, line)
        raise
    except BaseException:  # Ctrl-C, exit: stop the child, do not wait for it
        checking.cancel()
        raise
    checks = _checked(checking, timings, progress)
    report, future_warnings = checks.report, checks.future_warnings
    if ahead is not None and checks.asserted is not None:
        ahead.written(checks.asserted)
    for line in lines:
        _say(progress, line)

    # -- issue #15 item 1: why each inferred triple holds, and the shapes on the closure
    from chainkg.build.provenance import closure_findings, closure_results, closure_store, results_on_store, trace_inputs

    t = time.perf_counter()
    prov = trace_inputs(inputs, closure, inferred)
    del closure, asserted
    timings["trace"] = time.perf_counter() - t
    _say(progress, f"trace     {timings['trace']:6.2f}s  {len(prov.data)} data, {len(prov.schema)} schema inferences; "
                   f"{prov.grouped()} in {sum(g.rule is not None for g in prov.groups.values())} derivation graphs, "
                   f"{prov.description_size()} description triples; {len(prov.untraced)} untraced")
    # the shapes on the closure (warnings only) in a new process, beside the freeze, reading the
    # closure from a file: a child forked now would share this process's pages until the freeze
    # writes them (reference counts, memory freed and reused), then hold copies: 3.8 GB at 1M
    t = time.perf_counter()
    closure_file = closure_check = None
    if ahead is not None:
        try:
            closure_file = _closure_file(ahead.folder, inputs, prov)
            closure_check = Spawned(_timed, t, closure_results, closure_file, config, workdir=ahead.folder)
        except OSError:  # no room for the file or no new process
            _remove(closure_file)
            closure_file = None
    if closure_check is None:  # one process, or no cache folder to write in: here, before the freeze
        closure_check = Spawned.here(_timed, t, results_on_store, closure_store(inputs, prov), config)
    inputs.drop_union_stores()  # freezing reads the named graphs only
    try:
        t = time.perf_counter()
        from chainkg.build.load import input_manifest

        meta = {"reasoner": config.reasoner, "timings": timings, "inputs": input_manifest(config, inputs)}
        meta["inputs"]["imports"] = imports_version(config, "")  # issue #10's files: imports, alignments, links
        dataset = _freeze(inputs, prov, version, meta)
        dataset, ext_warnings = ext.complete(dataset)  # issue #10: stream the imports in; their warnings
        if ahead is not None:  # what integrate added to the asserted graphs after the fork
            ahead.touched = set(inputs.changes[changes_at_fork:])
        timings["freeze"] = time.perf_counter() - t
    except BaseException:  # the freeze's own error is the one to report; the warnings are moot
        closure_check.cancel()
        _remove(closure_file)
        raise
    try:
        closure_results_graph, timings["validate_closure"] = closure_check.result()
    except StepDied as e:
        raise BuildError(str(e)) from None
    except BaseException:  # Ctrl-C while waiting: stop it, do not leave it running
        closure_check.cancel()
        raise
    finally:
        _remove(closure_file)
    closure_warnings = closure_findings(closure_results_graph, inputs, report)
    _say(progress, f"validate  {timings['validate_closure']:6.2f}s  after reasoning: {len(closure_warnings)} new findings")
    # -- end issue #15 item 1
    _say(progress, f"freeze    {timings['freeze']:6.2f}s  {len(dataset.store)} quads")
    return BuildResult(dataset=dataset, cached=False, timings=timings,
                       warnings=report.warnings + future_warnings + closure_warnings + ext_warnings)


def _remove(path: str | None) -> None:
    if path is not None:
        Path(path).unlink(missing_ok=True)


def _closure_file(folder, inputs: Inputs, prov) -> str:
    """An N-Triples file (temporary: the caller removes it) of the closure the shapes check after
    reasoning: asserted + ontology + inferred (chainkg.build.provenance.closure_store). In the
    build's work folder in the cache folder (AssertedAhead.folder: removed with it, even after a
    killed build), not in /tmp, which can be memory (tmpfs) the build's figures would not show."""
    import pyoxigraph as ox

    from chainkg.build.provenance import closure_store

    fd, path = tempfile.mkstemp(prefix="closure-", suffix=".nt", dir=folder)
    os.close(fd)
    try:
        closure_store(inputs, prov).dump(path, ox.RdfFormat.N_TRIPLES, from_graph=ox.DefaultGraph())
    except BaseException:
        os.unlink(path)
        raise
    return path


def _freeze(inputs: Inputs, inferred, version: str, meta: dict) -> FrozenDataset:
    """freeze() without an rdflib round trip: the asserted quads go into the store as Oxigraph
    terms, only the inferred triples are converted. `inferred` is a set of triples (all into
    graph/inferred) or a provenance.Provenance (data, schema apart; the derivation groups' graphs and
    their descriptions streamed in as Oxigraph quads)."""
    import pyoxigraph as ox

    from chainkg.build.dataset import compute_stats
    from chainkg.build.terms import to_ox

    store = ox.Store()
    store.extend(q for q in inputs.store())
    from chainkg.build.load import INFERRED_SCHEMA_GRAPH

    grouped = not isinstance(inferred, (set, frozenset, list))
    parts = [(inferred.data, INFERRED_GRAPH), (inferred.schema, INFERRED_SCHEMA_GRAPH)] if grouped else [
        (inferred, INFERRED_GRAPH)]
    memo: dict = {}  # graph/inferred and the derivation graphs share their terms: convert each once

    def conv(t):
        r = memo.get(t)
        if r is None:
            r = memo[t] = to_ox(t)
        return r

    for triples, name in parts:
        g = ox.NamedNode(name)
        store.extend(ox.Quad(conv(s), conv(p), conv(o), g) for s, p, o in triples)
    if grouped:
        store.extend(inferred.quads(conv))
    dataset = FrozenDataset(store=store, version=version, meta=dict(meta))
    dataset.meta["stats"] = compute_stats(dataset)
    return dataset


def build(config: Config, *, force: bool = False, fallback: bool = False,
          progress: Callable | None = None) -> BuildResult:
    """The dataset for the current inputs: from the cache when the inputs are unchanged and the
    cached folder verifies, else built (and saved).

    fallback=True is for serving: when the inputs do not build, return the newest cached build
    that verifies, marked stale (BuildResult.stale, FrozenDataset.stale and .build_error), and log
    a WARNING; raise the BuildError only when there is no good build at all. Without it (the CLI,
    the tests, exports) a failed build raises."""
    t0 = time.perf_counter()
    try:
        version = inputs_hash(config)
        from chainkg.integrate.imports import imports_version  # issue #10: imports/, alignments, triples/links/

        version = imports_version(config, version)
    except OSError as e:  # an input file that cannot be read
        error = BuildError(f"{getattr(e, 'filename', '') or config.root}: cannot read ({e.strerror or e})")
        if not fallback:
            raise error from None
        return _last_good(config, "", error, progress)
    if not force:
        try:
            cached = FrozenDataset.load(config.cache_dir, version)
        except CacheError as e:
            cached = None
            _say(progress, f"cache     rejected, rebuilding: {e}")
            log.warning("cached build %s rejected, rebuilding: %s", version, e)
        if cached is not None:
            elapsed = time.perf_counter() - t0
            _say(progress, f"cached    {elapsed:6.2f}s  version {version}, {len(cached.store)} quads")
            return BuildResult(dataset=cached, cached=True, timings={"cached_load": elapsed}, inputs_version=version)
    ahead = _asserted_ahead(config)
    try:
        try:
            with _collector_paused():
                result = run_stages(config, version, progress, ahead)
        except BuildError as e:
            if not fallback:
                raise
            return _last_good(config, version, e, progress)
        t = time.perf_counter()
        try:
            result.dataset.save(config.cache_dir, ahead)
        except (OSError, CacheError) as e:  # the build is good, the cache folder is not writable or lies
            message = f"{config.cache_dir}: cannot save the build: {e}"
            if not fallback:
                raise BuildError(message) from None
            log.warning("%s; serving it without a cache", message)
    finally:
        if ahead is not None:
            ahead.discard()
    result.timings["save"] = time.perf_counter() - t
    result.timings["total"] = time.perf_counter() - t0
    result.inputs_version = version
    _say(progress, f"saved     {result.timings['save']:6.2f}s  version {version} in {config.cache_dir}")
    return result


def _asserted_ahead(config: Config) -> AssertedAhead | None:
    """A hidden folder in the cache folder for the asserted store written ahead; None without fork,
    or when the cache folder cannot be made (save then says why)."""
    if not fork_enabled():  # one process: writing ahead would only write twice
        return None
    try:
        config.cache_dir.mkdir(parents=True, exist_ok=True)
        return AssertedAhead(config.cache_dir)
    except OSError:
        return None


@contextmanager
def _collector_paused():
    """Python's cyclic garbage collector off while the stages run. They allocate tens of millions of
    small objects (terms, triples, sets, dicts) that reference counting frees; each collection the
    allocations trigger re-traverses the live ones, which at 1M asserted triples are most of the
    heap. A collection at the end takes what cycles the stages left (rdflib and pySHACL graphs)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
        gc.collect()


def _last_good(config: Config, version: str, error: BuildError, progress: Callable | None) -> BuildResult:
    """The newest cached build that verifies, marked stale; re-raise `error` when there is none."""
    rejected = []
    for candidate in cached_versions(config.cache_dir):
        if candidate == version:
            continue
        try:
            dataset = FrozenDataset.load(config.cache_dir, candidate)
        except CacheError as e:
            rejected.append(str(e))
            continue
        if dataset is None:
            continue
        text = str(error)
        dataset.stale, dataset.build_error = True, text
        lines = text.splitlines() or [type(error).__name__]
        shown = lines[:20] + ([f"... ({len(lines) - 20} more lines)"] if len(lines) > 20 else [])
        log.warning("THE INPUTS DO NOT BUILD (version %s); SERVING THE LAST GOOD BUILD %s INSTEAD", version, candidate)
        for line in shown:
            log.warning("  build error: %s", line)
        log.warning("  /healthz reports status \"degraded\" until the inputs are fixed and the server restarted")
        _say(progress, f"stale     serving the last good build {candidate}: the inputs do not build")
        return BuildResult(dataset=dataset, cached=True, stale=True, error=text, inputs_version=version)
    for reason in rejected:
        log.warning("no fallback: cached build rejected: %s", reason)
    raise error
