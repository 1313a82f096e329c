"""The build's checks run in forked children beside reasoning and freezing (chainkg.build.forked):
results, failures and deaths come back to the parent, and the build reports what it always did,
in the same order."""

from __future__ import annotations

import os
import signal

import pytest

from chainkg.build.forked import Forked, StepDied, StepFailed
from chainkg.build.pipeline import ValidationFailed, build
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
def test_a_result_that_cannot_be_sent_is_a_death_with_its_status():
    with pytest.raises(StepDied, match="exit status 70"):
        Forked(lambda: (lambda: None)).result()  # a lambda does not pickle


def test_a_violation_is_reported_before_an_inconsistency_found_meanwhile(mini_config):
    """Both broken: the checks (in the child) fail, and so does reasoning (in the parent). The
    build says what it said when the checks ran first: the violation."""
    path = mini_config.triples_dir / "900_test.trig"
    broken = MINI_TRIG.replace("ck:value 600000000.0", 'ck:value "six hundred million"')
    broken = broken.replace("id:test-park a ck:IndustrialPark ;", "id:test-park a ck:IndustrialPark , ck:Enterprise ;")
    assert broken.count("six hundred million") == 1 and "ck:IndustrialPark , ck:Enterprise" in broken
    path.write_text(broken)
    with pytest.raises(ValidationFailed) as e:
        build(mini_config)
    assert "900_test.trig" in e.value.report.format()


def test_the_progress_lines_keep_their_order(mini_config):
    lines: list[str] = []
    build(mini_config, force=True, progress=lines.append)
    stages = [line.split()[0] for line in lines]
    assert stages[:7] == ["load", "validate", "figures", "reason", "trace", "validate", "freeze"], lines
    assert "after reasoning" in lines[5]
