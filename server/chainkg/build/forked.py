"""A build step run in a forked child process while the parent goes on with the next steps.

The build is Python holding the GIL most of the time, so a thread would not use the machine's
second core. A forked child shares the loaded inputs with the parent (copy on write) and hands
back only its result, pickled into an unlinked temporary file, then exits: its memory is freed as
soon as it is done, not when the parent gets round to reading. The checks of the asserted data
(SHACL, figures, tense) need nothing from reasoning, so they run beside it (`pipeline.run_stages`).

`Spawned` runs a step in a new Python process instead (arguments and result pickled through
files): it shares no memory with the parent, which a forked child does until the parent writes to
it. Pages the parent touches after a fork (a reference count changed, memory freed and reused) are
copied, so a child forked from a big parent that goes on working costs nearly the parent's size
again; a spawned one costs what it loads.

The child writes nothing else: the step's progress lines are returned with its result and printed
by the parent. It dies with the parent (PR_SET_PDEATHSIG) and ignores Ctrl-C, which the parent
answers by killing it (`cancel`). Where os.fork is missing or fails, or CHAINKG_BUILD_FORK is 0
(or false, no, off), the step runs at once in the calling process: the same result from the same
data, without the overlap.
"""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable


class StepDied(Exception):
    """The child ended without a whole result (killed, out of memory); str() says how."""


class StepFailed(Exception):
    """The step raised in the child. `kind` is the exception's class name, `message` its text,
    `trace` the child's traceback (the exception itself may not survive pickling)."""

    def __init__(self, kind: str, message: str, trace: str):
        self.kind, self.message, self.trace = kind, message, trace
        super().__init__(f"{kind}: {message}")

    def __reduce__(self):
        return type(self), (self.kind, self.message, self.trace)


def _outcome(step: Callable) -> tuple:
    try:
        return ("ok", step())
    except Exception as e:  # noqa: BLE001 - the parent decides what a failure means
        return ("error", type(e).__name__, str(e), traceback.format_exc())


def fork_enabled() -> bool:
    return hasattr(os, "fork") and os.environ.get("CHAINKG_BUILD_FORK", "1").strip().lower() not in (
        "0", "false", "no", "off")


def _die_with_parent() -> None:
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the child finishes its step and exits
        pass


_UNREADABLE = (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError)


def _ended(code: int, tail: list | None = None) -> tuple:
    """The outcome of a step's process that ended with a signal (code < 0) or a failure status;
    `tail`: the last lines it wrote to stderr, when they were kept."""
    how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
    return ("died", f"the build's checking process ended without a result ({how}"
                    + ("; out of memory?" if code == -signal.SIGKILL else "") + ")"
                    + (": " + " / ".join(tail) if tail else ""))


def _unreadable(e: Exception) -> tuple:
    return ("died", f"the build's checking process left no readable result ({type(e).__name__}: {e})")


class _Step:
    """What Forked and Spawned share: the outcome, ("ok", result), ("error", kind, message,
    trace) or ("died", how), read once by `result`."""

    _outcome: tuple | None = None

    def _collect(self) -> tuple:
        raise NotImplementedError

    def result(self):
        if self._outcome is None:
            self._outcome = self._collect()
        kind = self._outcome[0]
        if kind == "ok":
            return self._outcome[1]
        if kind == "died":
            raise StepDied(self._outcome[1])
        raise StepFailed(*self._outcome[1:])


class Forked(_Step):
    """`Forked(step)` starts `step()` in a child now; `.result()` waits for it and returns what it
    returned, or raises StepFailed / StepDied. Call `.result()` once, or `.cancel()` when the
    parent gives up (both reap the child)."""

    def __init__(self, step: Callable):
        self._pid, self._file, self._outcome = None, None, None
        if not fork_enabled():
            self._outcome = _outcome(step)
            return
        out = tempfile.TemporaryFile(prefix="chainkg-step-")
        for stream in (sys.stdout, sys.stderr):  # nothing buffered here is written twice
            try:
                stream.flush()
            except (AttributeError, OSError, ValueError):
                pass
        try:
            pid = os.fork()
        except OSError:  # no memory or no process slot for a child: do it here
            out.close()
            self._outcome = _outcome(step)
            return
        if pid == 0:  # the child: compute, write, leave without running the parent's exit handlers
            status = 0
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                _die_with_parent()
                outcome = _outcome(step)
                try:
                    data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
                except Exception as e:  # noqa: BLE001 - a result that does not pickle is the step's failure
                    data = pickle.dumps(("error", type(e).__name__, f"its result does not pickle: {e}",
                                         traceback.format_exc()))
                out.write(data)
                out.flush()
            except BaseException:  # noqa: BLE001 - nothing could be written: the parent sees StepDied
                status = 70
            finally:
                os._exit(status)
        self._pid, self._file = pid, out

    def cancel(self) -> None:
        """Kill the child, if it still runs, and reap it; the result is dropped."""
        if self._pid is not None:
            try:
                os.kill(self._pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._wait()
            self._file.close()
        self._outcome = ("died", "cancelled")

    def _wait(self) -> int | None:
        pid, self._pid = self._pid, None
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:  # reaped elsewhere (SIGCHLD ignored): judge by what it wrote
            return None
        return os.waitstatus_to_exitcode(status)

    def _collect(self) -> tuple:
        code = self._wait()
        with self._file as source:
            source.seek(0)
            data = source.read()
        if code:  # a signal (< 0) or a failure to write: whatever was written is not a whole result
            return _ended(code)
        try:
            return pickle.loads(data)
        except _UNREADABLE as e:
            return _unreadable(e)


class Spawned(_Step):
    """`Spawned(function, *args)` starts `function(*args)` in a new Python process now (`python -m
    chainkg.build.forked`): the function (module level) and its arguments go in, its outcome comes
    back, pickled through files in a private temporary folder (in `workdir`, when given).
    `.result()` and `.cancel()` as for Forked; without fork (CHAINKG_BUILD_FORK=0) the step runs
    here at once."""

    def __init__(self, function: Callable, *args, workdir=None):
        self._proc, self._outcome, self._dir = None, None, None
        if not fork_enabled():
            self._outcome = _outcome(lambda: function(*args))
            return
        self._dir = tempfile.mkdtemp(prefix="chainkg-spawn-", dir=workdir)
        self._err = open(os.path.join(self._dir, "stderr"), "w+b")  # noqa: SIM115 - read when it ends
        step = os.path.join(self._dir, "step.pickle")
        try:
            with open(step, "wb") as f:  # this process's module path first: the function is found as here
                pickle.dump(list(sys.path), f, protocol=pickle.HIGHEST_PROTOCOL)
                pickle.dump((function, args), f, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as e:  # noqa: BLE001 - a step that cannot be sent is the step's failure
            self._cleanup()
            self._outcome = ("error", type(e).__name__, f"the step does not pickle: {e}", traceback.format_exc())
            return
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "chainkg.build.forked", step, os.path.join(self._dir, "outcome.pickle"),
                 str(os.getpid())], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._err)
        except OSError:  # no process could be started: do it here
            self._cleanup()
            self._outcome = _outcome(lambda: function(*args))

    @classmethod
    def here(cls, function: Callable, *args) -> Spawned:
        """The step run at once in this process (where no new one can be started), same API."""
        step = cls.__new__(cls)
        step._proc, step._dir, step._outcome = None, None, _outcome(lambda: function(*args))
        return step

    def cancel(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None
        self._cleanup()
        self._outcome = ("died", "cancelled")

    def _collect(self) -> tuple:
        code = self._proc.wait()
        self._proc = None
        try:
            if code:
                self._err.seek(0)
                return _ended(code, self._err.read().decode("utf-8", "replace").strip().splitlines()[-3:])
            try:
                with open(os.path.join(self._dir, "outcome.pickle"), "rb") as f:
                    return pickle.load(f)
            except (OSError, *_UNREADABLE) as e:
                return _unreadable(e)
        finally:
            self._cleanup()

    def _cleanup(self) -> None:
        if self._dir is not None:
            self._err.close()
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def _unloadable(message: str):
    raise ImportError(message)


def _spawned_main(step: str, out: str, parent: int) -> int:
    """The spawned process: run the pickled step, write its outcome (atomically), exit 0; a
    process whose parent is gone does nothing."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    if os.getppid() != parent:
        return 1
    with open(step, "rb") as f:
        sys.path[:] = pickle.load(f)
        try:
            function, args = pickle.load(f)
        except Exception as e:  # noqa: BLE001 - a function that cannot be found here is the step's failure
            function, args = _unloadable, (f"the step cannot be loaded: {type(e).__name__}: {e}",)
    outcome = _outcome(lambda: function(*args))
    try:
        data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as e:  # noqa: BLE001 - a result that does not pickle is the step's failure
        data = pickle.dumps(("error", type(e).__name__, f"its result does not pickle: {e}", traceback.format_exc()))
    with open(out + ".part", "wb") as f:
        f.write(data)
    os.replace(out + ".part", out)
    return 0


if __name__ == "__main__":  # python -m chainkg.build.forked STEP_PICKLE OUTCOME_PICKLE PARENT_PID
    sys.exit(_spawned_main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
