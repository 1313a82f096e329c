"""The build's checks run in forked children beside reasoning and freezing (chainkg.build.forked):
results, failures and deaths come back to the parent, and the build reports what it always did,
in the same order."""

from __future__ import annotations

import os
import re
import signal

import pytest

from chainkg.build.forked import Forked, Spawned, StepDied, StepFailed
from chainkg.build.pipeline import BuildError, ValidationFailed, build
from conftest import MINI_TRIG

forking = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is missing here: the steps run in-process")


@forking
def test_the_step_runs_in_another_process_and_its_result_comes_back():
    step = Forked(lambda: (os.getpid(), {"big": list(range(100_000))}))
    pid, value = step.result()
    assert pid != os.getpid()
    assert value["big"][-1] == 99_999


def test_without_fork_the_step_runs_here_when_asked(monkeypatch):
    monkeypatch.setenv("CHAINKG_BUILD_FORK", "0")
    step = Forked(lambda: os.getpid())
    assert step.result() == os.getpid()


@forking
def test_an_exception_in_the_step_comes_back_with_its_kind_message_and_trace():
    def step():
        raise KeyError("no such shape")

    with pytest.raises(StepFailed) as e:
        Forked(step).result()
    assert e.value.kind == "KeyError" and "no such shape" in e.value.message
    assert "raise KeyError" in e.value.trace


@forking
def test_a_child_killed_is_a_clear_error_not_a_hang():
    def step():
        os.kill(os.getpid(), signal.SIGKILL)

    with pytest.raises(StepDied, match="killed by signal 9"):
        Forked(step).result()


@forking
def test_a_result_that_does_not_pickle_is_the_steps_failure():
    with pytest.raises(StepFailed, match="does not pickle"):
        Forked(lambda: (lambda: None)).result()  # a lambda does not pickle


def test_without_fork_the_step_has_run_before_the_caller_goes_on(monkeypatch):
    """In one process the step must see the data as it was when it was started, as the child does."""
    monkeypatch.setenv("CHAINKG_BUILD_FORK", "off")
    data = ["as loaded"]
    step = Forked(lambda: list(data))
    data.append("added after the start")
    assert step.result() == ["as loaded"]


@forking
def test_a_cancelled_step_is_killed_and_reaped():
    step = Forked(lambda: __import__("time").sleep(60))
    pid = step._pid
    step.cancel()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


@forking
def test_ctrl_c_while_reasoning_stops_the_build_and_its_child(mini_config, monkeypatch):
    """An interrupt is not a build error (a server would fall back on one): it propagates, and the
    checking child is killed and reaped, not waited for."""
    import chainkg.build.pipeline as pipeline
    import chainkg.build.reason as reason

    started = []

    class Recorded(Forked):
        def __init__(self, step):
            super().__init__(step)
            started.append(self._pid)

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "Forked", Recorded)
    monkeypatch.setattr(reason, "closure_of", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build(mini_config)
    assert started and all(pid is not None for pid in started)
    for pid in started:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    assert not list(mini_config.cache_dir.glob(".asserted-*")), "the build's work folder stays behind"


def test_a_violation_is_reported_before_an_inconsistency_found_meanwhile(mini_config):
    """Both broken: the checks (in the child) fail, and so does reasoning (in the parent). The
    build says what it said when the checks ran first: the violation."""
    path = mini_config.triples_dir / "900_test.trig"
    broken = MINI_TRIG.replace("ck:value 600000000.0", 'ck:value "six hundred million"')
    broken = broken.replace("id:test-park a ck:IndustrialPark ;", "id:test-park a ck:IndustrialPark , ck:Enterprise ;")
    assert broken.count("six hundred million") == 1 and "ck:IndustrialPark , ck:Enterprise" in broken
    path.write_text(broken.replace('ck:value "six hundred million"', "ck:value 600000000.0"))
    with pytest.raises(BuildError, match="inconsistent"):  # the second fault alone: reasoning finds it
        build(mini_config)
    path.write_text(broken)
    with pytest.raises(ValidationFailed) as e:
        build(mini_config)
    assert "900_test.trig" in e.value.report.format()


def test_one_process_and_forked_builds_agree_on_the_real_project(config, tmp_path, monkeypatch):
    """The repository's inputs hold imports and links, which join the inputs after the checks
    start: with or without fork, the checks see the inputs as loaded, and the builds give the same
    warnings, statistics and quads."""
    from dataclasses import replace

    results = {}
    for mode in ("1", "0"):
        monkeypatch.setenv("CHAINKG_BUILD_FORK", mode)
        results[mode] = build(replace(config, build_dir=tmp_path / f"fork-{mode}"), force=True)
    forked, single = results["1"], results["0"]
    def lines(result):  # blank nodes are named afresh by each load
        return [re.sub(r"_:\w+", "_:b", w.format()) for w in result.warnings]

    assert lines(forked) == lines(single)
    assert forked.warnings, "the real project has warnings: the comparison would be empty otherwise"
    assert forked.dataset.meta["stats"] == single.dataset.meta["stats"]
    assert forked.dataset.version == single.dataset.version


def test_the_progress_lines_keep_their_order(mini_config):
    lines: list[str] = []
    build(mini_config, force=True, progress=lines.append)
    stages = [line.split()[0] for line in lines]
    assert stages[:8] == ["load", "validate", "figures", "store", "reason", "trace", "validate", "freeze"], lines
    assert "after reasoning" in lines[6]


def _quads(store, sparql: str) -> set:
    return {tuple(str(t) for t in row) for row in store.query(sparql)}


def test_the_asserted_store_written_ahead_holds_what_the_frozen_dataset_asserts(config, tmp_path):
    """The asserted store is written by the checking child from the graphs as loaded, then gets
    what integrate added after the fork (the real project's links, imports, alignments and their
    provenance): it must equal the asserted graphs of the saved dataset, and its default graph
    their distinct union."""
    from dataclasses import replace

    from chainkg.build.load import is_derived_graph

    lines: list[str] = []
    result = build(replace(config, build_dir=tmp_path / "b"), force=True, progress=lines.append)
    assert any(line.startswith("store ") and "written beside reasoning" in line for line in lines), lines
    ds = result.dataset
    named = "SELECT ?s ?p ?o ?g { GRAPH ?g { ?s ?p ?o } }"
    everything = _quads(ds.union_store, named)
    expected = {q for q in everything if not is_derived_graph(q[3][1:-1])}
    graphs = {q[3] for q in expected}
    assert any("/graph/links/" in g for g in graphs) and any("/graph/ext/" in g for g in graphs), \
        "the real project's links and imports join after the fork: the comparison would not cover them"
    assert _quads(ds.asserted_store, named) == expected
    assert _quads(ds.asserted_store, "SELECT ?s ?p ?o { ?s ?p ?o }") == {q[:3] for q in expected}
    assert ds.meta["cache"]["stores"]["asserted"]["quads"] == len(expected)
    assert not list((tmp_path / "b" / "cache").glob(".asserted-*"))


def test_a_failed_build_leaves_no_store_written_ahead(mini_config):
    path = mini_config.triples_dir / "900_test.trig"
    path.write_text(MINI_TRIG.replace("ck:value 600000000.0", 'ck:value "six hundred million"'))
    with pytest.raises(ValidationFailed):
        build(mini_config)
    assert mini_config.cache_dir.is_dir()
    assert not list(mini_config.cache_dir.glob(".asserted-*"))


def _whoami(big: int) -> tuple:
    return os.getpid(), os.getppid(), list(range(big))


def _fails(message: str):
    raise KeyError(message)


def _sleeps(seconds: float):
    import time

    time.sleep(seconds)
    return seconds


@forking
def test_a_spawned_step_runs_in_a_new_process_and_its_result_comes_back():
    pid, parent, value = Spawned(_whoami, 100_000).result()
    assert pid != os.getpid() and parent == os.getpid()
    assert value[-1] == 99_999


def test_without_fork_the_spawned_step_runs_here(monkeypatch):
    monkeypatch.setenv("CHAINKG_BUILD_FORK", "0")
    assert Spawned(_whoami, 1).result()[0] == os.getpid()


@forking
def test_a_spawned_steps_exception_comes_back_with_its_kind_and_trace():
    with pytest.raises(StepFailed) as e:
        Spawned(_fails, "no such shape").result()
    assert e.value.kind == "KeyError" and "no such shape" in e.value.message and "_fails" in e.value.trace


@forking
def test_a_spawned_step_killed_is_a_clear_error_and_a_cancelled_one_is_reaped():
    step = Spawned(_sleeps, 60)
    os.kill(step._proc.pid, signal.SIGKILL)
    with pytest.raises(StepDied, match="killed by signal 9"):
        step.result()
    step = Spawned(_sleeps, 60)
    pid = step._proc.pid
    step.cancel()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    with pytest.raises(StepDied, match="cancelled"):
        step.result()


@forking
def test_a_spawned_step_that_cannot_be_sent_or_found_is_its_failure_not_a_hang(monkeypatch):
    import sys
    import types

    with pytest.raises(StepFailed, match="does not pickle"):
        Spawned(lambda: 1).result()  # a lambda does not pickle: nothing is started
    here_only = types.ModuleType("chainkg_test_here_only")  # importable here, not in the new process
    exec("def f():\n    return 1\n", here_only.__dict__)
    monkeypatch.setitem(sys.modules, "chainkg_test_here_only", here_only)
    with pytest.raises(StepFailed, match="cannot be loaded.*chainkg_test_here_only"):
        Spawned(here_only.f).result()


def test_a_killed_builds_work_folder_goes_and_a_running_ones_stays(tmp_path):
    import fcntl

    from chainkg.build.dataset import AssertedAhead

    left = tmp_path / ".asserted-left"
    (left / "asserted").mkdir(parents=True)
    (left / "lock").write_bytes(b"")
    running = AssertedAhead(tmp_path)
    with open(running.folder / "lock", "rb") as f:  # its lock is held: nobody else may take it
        with pytest.raises(BlockingIOError):
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    second = AssertedAhead(tmp_path)
    assert not left.exists() and running.folder.exists()
    running.discard(), second.discard()
    assert not list(tmp_path.glob(".asserted-*"))


def test_without_fork_nothing_is_written_ahead(mini_config, monkeypatch):
    monkeypatch.setenv("CHAINKG_BUILD_FORK", "0")
    lines: list[str] = []
    result = build(mini_config, force=True, progress=lines.append)
    assert not any(line.startswith("store ") for line in lines), lines
    assert len(result.dataset.asserted_store) > 0
