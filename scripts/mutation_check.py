#!/usr/bin/env python3
"""Mutation check (issue 16, item 4): one deliberate bug at a time, in a scratch copy; do the tests notice?

A fixed list of mutants on the modules that carry guarantees (query guard and limits, the sandbox,
parameter binding, content negotiation and truncation, ETags, validation, loading, the strict
checks, claim consistency, body limits) and on the data the consistency check guards. Each mutant
is anchored on an exact snippet of its file: when the code has moved on and the snippet is gone,
the outcome is "snippet not found" (counted apart, never as a kill). For each mutant the script

1. copies the working tree (everything but .git, .venv, build/ and caches) to a scratch folder
   under /tmp (the checkout itself is never touched),
2. replaces the snippet (exactly once), runs only the tests named for it (`pytest -x`, with
   PYTHONPATH pointing at the scratch copy, so `chainkg serve` subprocesses run the mutant too),
3. restores the file, and prints killed / survived.

The last line is `killed K of N`. Not part of CI: it runs one mutant at a time (CPU is shared),
about 15-25 minutes in all. Usage:

    .venv/bin/python scripts/mutation_check.py              # every mutant
    .venv/bin/python scripts/mutation_check.py M05 M17      # some of them
    .venv/bin/python scripts/mutation_check.py --list       # the list, nothing run
    .venv/bin/python scripts/mutation_check.py --no-baseline  # skip the unmutated run of each selection

Before the mutants, each distinct test selection runs once on the unmutated copy: a selection that
fails there makes its mutants "error", never "killed". Outcomes: killed (a test failed or a
fixture errored, pytest exit 1; or no answer within the time limit), SURVIVED (every test
passed), error (the harness: nothing selected, collection interrupted), snippet not found.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SKIP = {".git", ".venv", "build", "test-output", ".pytest_cache", ".ruff_cache", "__pycache__", "node_modules"}
SOURCES = Path(os.environ.get("CHAINKG_SOURCES") or ROOT.parent / "shared" / "sources")
W3C = Path(os.environ.get("CHAINKG_W3C") or ROOT.parent / "shared" / "w3c")
TIMEOUT_S = 420


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str
    original: str
    replacement: str
    tests: tuple[str, ...]  # pytest arguments (files, node ids, -k expressions)
    what: str


S = "server/chainkg/"
GAPS = "tests/test_gaps.py"
CONS = "tests/test_consistency.py"
SC = "tests/test_shape_constraints.py"

MUTANTS: tuple[Mutant, ...] = (
    # -- the survivors of the table ------------------------------------------------------
    Mutant("M01", "triples/003_parks_listed_2024.trig", "ck:value 135140000000.0", "ck:value 13514000000.0",
           (CONS, "-k", "beyond_the_known"), "data: a claim's value stored 10x too small"),
    Mutant("M02", "triples/003_parks_listed_2024.trig", 'ck:originalWording "1351.4亿元"@zh',
           'ck:originalWording "1315.4亿元"@zh', (CONS, "-k", "beyond_the_known"),
           "data: an original wording changed to one not in the quote"),
    Mutant("M03", "shapes/core.ttl", "sh:path ck:originalWording ; sh:minCount 1 ;",
           "sh:path ck:originalWording ; sh:minCount 0 ;", ("tests/test_shapes.py", GAPS, "-k", "every_violation"),
           "S04: original wording no longer required"),
    Mutant("M04", "shapes/core.ttl", "sh:path ck:evidence ; sh:minCount 1 ;", "sh:path ck:evidence ; sh:minCount 0 ;",
           ("tests/test_shapes.py", GAPS, "-k", "every_violation"), "S08: evidence no longer required"),
    Mutant("M05", S + "sparql/formats.py", "_row_count(body, fmt, max_rows) <= max_rows:",
           "_row_count(body, fmt, max_rows) <= max_rows + 1:", (GAPS, "-k", "row_limit and not http"),
           "row limit: the fast path returns max_rows + 1 rows unflagged"),
    Mutant("M06", S + "web/api.py", 'header, _ = (runner or InProcess(ds)).run("page", spec, timeout=config.query_timeout_s,',
           'header, _ = (runner or InProcess(ds)).run("page", spec, timeout=None,',
           (GAPS, "-k", "saved_query_api_time_limit"), "saved-query API: time limit removed"),
    Mutant("M07", S + "web/api.py", "params[key] = got if len(got) > 1 else got[0]", "params[key] = got[-1]",
           (GAPS, "-k", "repeated_single_value_parameter_is"), "parameters: a repeated one takes the last value"),
    Mutant("M08", S + "sparql/engine.py", "tuple(named_graphs or ()) if named_graphs is not None else None, asserted_only, max_rows",
           "tuple(named_graphs or ()) if named_graphs is not None else None, max_rows",
           (GAPS, "-k", "sparql_etags"), "ETag (and result cache) ignore inferred=false"),
    Mutant("M09", S + "cli.py", 'changes = {"service_allowlist": tuple(allow_service)}', 'changes = {"service_allowlist": ()}',
           ("tests/test_sandbox.py", "-k", "allow_service"), "serve --allow-service ignored"),
    # -- the query guard ---------------------------------------------------------------------------
    Mutant("M10", S + "sparql/guard.py", "if target not in service_allowlist or target in info.relative_services:",
           "if target not in service_allowlist and False:", ("tests/test_sparql_security.py", "-k", "network or allow_list"),
           "guard: SERVICE outside the allow-list let through"),
    Mutant("M11", S + "sparql/guard.py", "    if info.update:\n        raise UpdateRefused",
           "    if False:\n        raise UpdateRefused", ("tests/test_sparql_protocol.py", "-k", "updates"),
           "guard: updates not refused"),
    Mutant("M12", S + "sparql/guard.py", "        if target == UNREADABLE:\n", "        if False:\n",
           ("tests/test_sparql_security.py", "-k", "network or inspect", GAPS, "-k", "scanner"),
           "guard: an unreadable SERVICE target not named as such"),
    Mutant("M13", S + "sparql/guard.py", "    if info.form is None:\n        raise QuerySyntaxError",
           "    if False:\n        raise QuerySyntaxError",
           ("tests/test_sparql_protocol.py", "-k", "malformed or bad_parameter", GAPS, "-k", "scanner"),
           "guard: a text that is no query form passes"),
    # -- limits and the sandbox ------------------------------------------------------------------
    Mutant("M14", S + "sparql/limits.py", "while len(self._data) > self.entries or self._bytes > self.max_bytes:",
           "while len(self._data) > self.entries:", ("tests/test_sandbox.py", "-k", "bounded_by_bytes"),
           "result cache no longer bounded by bytes"),
    Mutant("M15", S + "sparql/limits.py", "        if n > self.max_entry:\n            return\n", "",
           ("tests/test_sandbox.py", "tests/test_web_hardening.py", "-k", "bounded or cache"),
           "result cache keeps oversized entries"),
    Mutant("M16", S + "sparql/limits.py", "            self._data.move_to_end(key)\n            return item[0]",
           "            return item[0]", ("tests/test_sandbox.py", "-k", "bounded_by_bytes", GAPS, "-k", "least_recently"),
           "result cache evicts the oldest entry, not the least recently used"),
    Mutant("M17", S + "sparql/sandbox.py", "if deadline is not None and time.monotonic() > deadline:",
           "if deadline is not None and time.monotonic() > deadline + 5:",
           ("tests/test_sandbox.py", "-k", "time_limit"), "sandbox: the time limit kills 5 s late"),
    Mutant("M18", S + "sparql/sandbox.py", "if max_memory and rss(ev.pid) - start_rss > max_memory:",
           "if max_memory and rss(ev.pid) - start_rss > max_memory * 1000:",
           ("tests/test_sandbox.py", "-k", "memory_limit"), "sandbox: the memory limit never kills"),
    Mutant("M19", S + "sparql/sandbox.py", "    if _libc.unshare(CLONE_NEWNET) == 0:\n        return \"network namespace\"",
           "    if True:\n        return \"network namespace\"",
           ("tests/test_sandbox.py", "-k", "cannot_connect or namespace or outside"), "sandbox: no network namespace"),
    # -- parameter binding -------------------------------------------------------------------------
    Mutant("M20", S + "sparql/saved.py", "            if len(raw) != 1:\n", "            if len(raw) < 1:\n",
           ("tests/test_query_params.py", GAPS, "-k", "repeated or injection or values_outside"),
           "binding: several values for a scalar taken as the first"),
    Mutant("M21", S + "sparql/saved.py", 'if not re.fullmatch(r"[+-]?[0-9]{1,18}", s.strip()):',
           'if not re.fullmatch(r"[+-]?.{1,18}", s.strip()):', ("tests/test_query_params.py",),
           "binding: integers not checked"),
    Mutant("M22", S + "sparql/saved.py", "    return str(term)\n", "    return term.value\n", ("tests/test_query_params.py",),
           "binding: a term written as its raw value (injection)"),
    Mutant("M23", S + "sparql/saved.py", "unknown = sorted(set(values) - {p.name for p in self.params})", "unknown = []",
           ("tests/test_query_params.py",), "binding: unknown parameters ignored"),
    Mutant("M24", S + "sparql/saved.py", "        if len(parts) > MAX_LIST_ITEMS:\n", "        if False:\n",
           ("tests/test_query_params.py", "tests/test_api.py", GAPS, "-k", "hundred"), "binding: lists unbounded"),
    Mutant("M25", S + "sparql/saved.py", "_IRI_FORBIDDEN = re.compile(r'[\\x00-\\x20<>\"{}|^`\\\\]')",
           "_IRI_FORBIDDEN = re.compile(r'[\\x00-\\x1f]')", ("tests/test_query_params.py",),
           "binding: IRIs with spaces and brackets pass the pattern"),
    # -- formats: negotiation and truncation ------------------------------------------------------
    Mutant("M26", S + "sparql/formats.py", "        if q > best_q:\n            best, best_q = offer, q",
           "        if q >= best_q:\n            best, best_q = offer, q", ("tests/test_sparql_protocol.py", "-k", "negotiate"),
           "negotiation: ties go to the later offer, q=0 accepted"),
    Mutant("M27", S + "sparql/formats.py", "q = min(1.0, max(0.0, float(value.strip())))", "q = float(value.strip())",
           ("tests/test_sparql_protocol.py", "-k", "negotiate or 406 or formats", GAPS, "-k", "q_values"),
           "negotiation: q-values not clamped"),
    Mutant("M28", S + "sparql/formats.py", "        return RESULT_FORMATS[:2]  # CSV/TSV", "        return RESULT_FORMATS  # CSV/TSV",
           ("tests/test_sparql_protocol.py", "-k", "ask or 406"), "ASK offered in CSV/TSV"),
    Mutant("M29", S + "sparql/formats.py", "            out.append('<link href=\"urn:chainkg:truncated\"/>')",
           "            pass", (GAPS, "-k", "row_limit and not http"), "XML answers lose the truncation marker"),
    Mutant("M30", S + "sparql/formats.py", "        if truncated:\n            doc[\"truncated\"] = True",
           "        if False:\n            doc[\"truncated\"] = True", (GAPS, "-k", "row_limit and not http"),
           "JSON answers lose the truncation flag"),
    Mutant("M31", S + "sparql/formats.py", "        return body.count(b\"\\n\") - 1  # TSV",
           "        return body.count(b\"\\n\") - 2  # TSV", (GAPS, "-k", "row_limit and not http"),
           "TSV row count off by one"),
    # -- ETags ---------------------------------------------------------------------------------------
    Mutant("M32", S + "sparql/engine.py", "key = (ds.version, text, fmt.name,", "key = (ds.version, text,",
           (GAPS, "-k", "sparql_etags"), "ETag ignores the format"),
    Mutant("M33", S + "sparql/engine.py", "tuple(default_graphs or ()) if default_graphs is not None else None,\n",
           "None,\n", (GAPS, "-k", "sparql_etags"), "ETag ignores default-graph-uri"),
    Mutant("M34", S + "web/api.py", "key = json.dumps([q.name, canonical(values), limit, offset, fmt], ensure_ascii=False)",
           "key = json.dumps([q.name, canonical(values), limit, fmt], ensure_ascii=False)",
           (GAPS, "-k", "saved_query_etags"), "API ETag ignores the offset"),
    Mutant("M35", S + "web/sparql.py", "etag = f'\"{ep.ds.version}-sd-{hashlib.sha1((url + fmt.name).encode()).hexdigest()[:12]}\"'",
           "etag = f'\"{ep.ds.version}-sd\"'", (GAPS, "-k", "service_description"), "Service Description ETag ignores the format"),
    Mutant("M36", S + "web/linked_data.py", 'tag = f"{dataset().version}-{ext}" + (f"-{lang}-', 'tag = f"{dataset().version}" + (f"-{lang}-',
           (GAPS, "-k", "linked_data_etags"), "linked data ETag ignores the format"),
    # -- the build -----------------------------------------------------------------------------------
    Mutant("M37", S + "build/load.py", "        for q in default:\n            if q.subject not in named:",
           "        for q in default:\n            if False:", ("tests/test_pipeline.py", "-k", "outside_a_claim"),
           "load: a fact outside a claim accepted"),
    Mutant("M38", S + "build/load.py", "            if not is_claim and name != background:",
           "            if False:", ("tests/test_pipeline.py", "-k", "without_claim_description"),
           "load: a named graph that is not a claim accepted"),
    Mutant("M39", S + "build/validate.py", "        return not self.violations\n", "        return len(self.violations) < 2\n",
           ("tests/test_pipeline.py", "-k", "violation or label"), "validate: a single violation does not stop the build"),
    Mutant("M40", S + "build/validate.py", "            abort_on_first=False,", "            abort_on_first=True,",
           ("tests/test_build_strict.py", "tests/test_pipeline.py", "-k", "all_problems or violation", GAPS, "-k",
            "every_violation"),
           "validate: stops at the first violation"),
    Mutant("M41", S + "build/check.py", '    XSD + "decimal": re.compile(r"[+-]?(\\d+(\\.\\d*)?|\\.\\d+)"),',
           '    XSD + "decimal": None,', ("tests/test_build_strict.py",), "check: ill-typed decimals pass"),
    Mutant("M42", S + "build/consistency.py", "        if v is not None and not _close(v, fig.low):",
           "        if v is not None and not _close(v, fig.low) and False:", (CONS,), "consistency: values not compared"),
    Mutant("M43", S + "build/consistency.py", "    if not any(_normalise(wording) in _normalise(q) for q in quotes):",
           "    if not quotes:", (CONS,), "consistency: wording not looked up in the quote"),
    Mutant("M44", S + "build/consistency.py", '_CN_LARGE = {"万": 10_000, "亿": 100_000_000}', '_CN_LARGE = {"万": 10_000, "亿": 10_000_000}',
           (CONS,), "consistency: 亿 read as 1e7"),
    Mutant("M45", S + "build/consistency.py", '        m *= {"万": 10**4, "亿": 10**8, "千": 10**3, "百": 10**2}[c]',
           '        m *= {"万": 10**4, "亿": 10**9, "千": 10**3, "百": 10**2}[c]', (CONS,), "consistency: 1351.4亿 read 10x too big"),
    Mutant("M46", S + "build/consistency.py", "    if fig.units and unit and unit not in fig.units:", "    if False:",
           (CONS,), "consistency: units not compared"),
    # -- body limits ---------------------------------------------------------------------------------
    Mutant("M47", S + "web/serve.py", "            if int(length) > self.max_body:", "            if int(length) > self.max_body * 100:",
           ("tests/test_sparql_protocol.py", "-k", "capped_413", GAPS, "-k", "body_cap", "tests/test_sandbox.py", "-k",
            "body_limit_alone"), "serve: Content-Length over the limit accepted"),
    Mutant("M48", S + "web/serve.py", "                if got > self.max_body:\n                    raise _TooLarge()",
           "                if False:\n                    raise _TooLarge()",
           ("tests/test_sandbox.py", "-k", "chunked or body_limit_alone"),
           "serve: a chunked body over the limit accepted"),
    # -- issue #16, the remaining items: one fixture per constraint, the consistency build step, attribution
    Mutant("M49", "shapes/core.ttl",
           "sh:in ( <http://id.loc.gov/vocabulary/iso639-1/zh> <http://id.loc.gov/vocabulary/iso639-1/en> ) ;",
           "sh:in ( <http://id.loc.gov/vocabulary/iso639-1/zh> <http://id.loc.gov/vocabulary/iso639-1/en> "
           "<http://id.loc.gov/vocabulary/iso639-1/fr> ) ;",
           (SC, "-k", "S09"), "S09: a source in French accepted"),
    # M50 (S04: ck:countOf may be a string) went with ck:countOf (ontology 0.2.0): a figure's
    # variable names what it counts (ck:population)
    Mutant("M50", "shapes/core.ttl", "sh:path dcterms:publisher ; sh:nodeKind sh:IRI ;",
           "sh:path dcterms:publisher ; sh:nodeKind sh:IRIOrLiteral ;", (SC, "-k", "S09"),
           "S09: a source's publisher may be a string"),
    Mutant("M51", S + "build/fastshacl.py", 'if "qualifiedMinCount" in p and n < int(p["qualifiedMinCount"]):',
           'if "qualifiedMinCount" in p and n < int(p["qualifiedMinCount"]) - 1:', (SC, "-k", "S01"),
           "Oxigraph validator: sh:qualifiedMinCount 1 never fires (an entity without a zh label passes)"),
    Mutant("M52", S + "build/pipeline.py", "    if disagreements:\n        raise FiguresDisagree(disagreements)",
           "    if False:\n        raise FiguresDisagree(disagreements)", (CONS, "-k", "build"),
           "build: a figure that disagrees with its wording does not stop it"),
    Mutant("M53", S + "build/pipeline.py",
           '            line = text.line_of(URIRef(d.claim), URIRef(CK + "originalWording"), Literal(d.wording))',
           "            line = None", (CONS, "-k", "build"), "build: a disagreement without its line"),
    Mutant("M54", S + "build/validate.py", "    if graph != PROVENANCE_GRAPH or not isinstance(focus, URIRef):\n        return files",
           "    if True:\n        return files", ("tests/test_shapes.py", "-k", "names"),
           "validate: a claim description's violation attributed to sources.ttl again"),
    Mutant("M55", S + "build/validate.py",
           "        return (text.line_of(p, value, start=start - 1) if value is not None else None) or start",
           "        return start", ("tests/test_shapes.py", "-k", "names"),
           "validate: a claim description's violation at its first line, not the value's"),
)


def scratch_copy() -> Path:
    dest = Path(tempfile.mkdtemp(prefix="chainkg-mutants-")) / "repo"
    dest.mkdir()
    for src in sorted(ROOT.iterdir()):
        name = src.name
        if name in SKIP:
            continue
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif src.exists():
            shutil.copy2(src, dest / name)
    return dest


def split_tests(tests: tuple[str, ...]) -> list[list[str]]:
    """pytest arguments, one run per `-k` group (a -k applies to the files before it)."""
    runs, current = [], []
    it = iter(tests)
    for arg in it:
        current.append(arg)
        if arg == "-k":
            current.append(next(it))
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def run_tests(repo: Path, tests: tuple[str, ...]) -> tuple[str, str]:
    """('pass' | 'fail' | 'timeout' | 'error', last lines of output) over every run of the mutant."""
    env = {**os.environ, "PYTHONPATH": str(repo / "server"), "CHAINKG_SOURCES": str(SOURCES), "CHAINKG_W3C": str(W3C),
           "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("CHAINKG_TEST_CACHE", None)  # a shared build cache would hide mutants of the build
    env.pop("CI", None)
    for args in split_tests(tests):
        cmd = [PYTHON, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *args]
        try:
            out = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return "timeout", f"no answer within {TIMEOUT_S} s"
        tail = "\n".join((out.stdout + out.stderr).strip().splitlines()[-3:])
        if out.returncode == 5:
            return "error", "no test selected: " + tail
        if out.returncode == 1:  # a test failed (or a fixture errored): the mutant was noticed
            return "fail", tail
        if out.returncode != 0:  # interrupted, internal error, usage: the harness, not the mutant
            return "error", tail
    return "pass", tail


def main(argv: list[str]) -> int:
    if "--list" in argv:
        for m in MUTANTS:
            print(f"{m.id}  {m.file}: {m.what}  [{' '.join(m.tests)}]")
        print(f"{len(MUTANTS)} mutants")
        return 0
    baseline = "--no-baseline" not in argv
    argv = [a for a in argv if not a.startswith("--")]
    chosen = [m for m in MUTANTS if not argv or m.id in argv]
    repo = scratch_copy()
    print(f"scratch copy: {repo}", flush=True)
    killed, survived, missing, errors = [], [], [], []
    try:
        broken: set = set()
        if baseline:  # every test selection must pass on the unmutated copy, or its kills mean nothing
            for tests in dict.fromkeys(m.tests for m in chosen):
                outcome, tail = run_tests(repo, tests)
                if outcome != "pass":
                    broken.add(tests)
                    print(f"baseline {outcome}: {' '.join(tests)}\n      {tail}", flush=True)
            print(f"baseline: {len(broken)} of {len(dict.fromkeys(m.tests for m in chosen))} test selections fail "
                  "unmutated", flush=True)
        for m in chosen:
            if m.tests in broken:
                errors.append(m)
                print(f"{m.id}  error (its tests fail unmutated)  {m.file}: {m.what}", flush=True)
                continue
            path = repo / m.file
            text = path.read_text(encoding="utf-8")
            count = text.count(m.original)
            if count != 1:
                missing.append(m)
                print(f"{m.id}  snippet not found{' (' + str(count) + ' times)' if count else ''}  {m.file}: {m.what}",
                      flush=True)
                continue
            path.write_text(text.replace(m.original, m.replacement), encoding="utf-8")
            t0 = time.monotonic()
            try:
                outcome, tail = run_tests(repo, m.tests)
            finally:
                path.write_text(text, encoding="utf-8")
            secs = time.monotonic() - t0
            if outcome in ("fail", "timeout"):
                killed.append(m)
                label = "killed" if outcome == "fail" else "killed (timeout)"
            elif outcome == "pass":
                survived.append(m)
                label = "SURVIVED"
            else:
                errors.append(m)
                label = "error"
            print(f"{m.id}  {label:<17} {secs:5.0f}s  {m.file}: {m.what}", flush=True)
            if outcome == "error":
                print(f"      {tail}", flush=True)
    finally:
        shutil.rmtree(repo.parent, ignore_errors=True)
    if missing:
        print(f"snippet not found: {', '.join(m.id for m in missing)} (not counted as killed)")
    if errors:
        print(f"errors (no test ran): {', '.join(m.id for m in errors)}")
    print(f"survived: {', '.join(m.id for m in survived) or 'none'}")
    print(f"killed {len(killed)} of {len(chosen)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
