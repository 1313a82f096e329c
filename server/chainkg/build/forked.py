"""A build step run in a forked child process while the parent goes on with the next steps.

The build is Python holding the GIL most of the time, so a thread would not use the machine's
second core. A forked child shares the loaded inputs with the parent (copy on write) and sends
back only its result, pickled through a pipe. The checks of the asserted data (SHACL, figures,
tense) need nothing from reasoning, so they run beside it (`pipeline.run_stages`).

The child must not write to the parent's files: the step's progress lines are returned with its
result and printed by the parent. Where os.fork is missing, or CHAINKG_BUILD_FORK=0, the step runs
in the calling process when its result is asked for (same result, no overlap).
"""

from __future__ import annotations

import os
import pickle
import traceback
from collections.abc import Callable


class StepDied(Exception):
    """The child ended without a result (killed, out of memory); str() says how."""


class StepFailed(Exception):
    """The step raised in the child. `kind` is the exception's class name, `message` its text,
    `trace` the child's traceback (the exception itself may not survive pickling)."""

    def __init__(self, kind: str, message: str, trace: str):
        self.kind, self.message, self.trace = kind, message, trace
        super().__init__(message)


def _outcome(step: Callable) -> tuple:
    try:
        return ("ok", step())
    except BaseException as e:  # noqa: BLE001 - everything goes back to the parent, which decides
        return ("error", type(e).__name__, str(e), traceback.format_exc())


class Forked:
    """`Forked(step)` starts `step()` in a child now; `.result()` waits for it and returns what it
    returned, or raises StepFailed / StepDied. Call `.result()` exactly once, also when the parent
    fails meanwhile (it reaps the child)."""

    def __init__(self, step: Callable):
        self._step, self._pid, self._fd, self._outcome = step, None, None, None
        if not hasattr(os, "fork") or os.environ.get("CHAINKG_BUILD_FORK", "1") == "0":
            return
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: compute, send, leave without running the parent's exit handlers
            status = 0
            try:
                os.close(read)
                data = pickle.dumps(_outcome(step), protocol=pickle.HIGHEST_PROTOCOL)
                with os.fdopen(write, "wb") as out:
                    out.write(data)
            except BaseException:  # noqa: BLE001 - the result could not be sent: the parent sees StepDied
                status = 70
            finally:
                os._exit(status)
        os.close(write)
        self._pid, self._fd = pid, read
        self._step = None  # what the step holds is the child's now: the parent may free it

    def result(self):
        if self._outcome is None:
            if self._pid is None:  # no fork here: run it now
                self._outcome = _outcome(self._step)
            else:
                with os.fdopen(self._fd, "rb") as source:
                    data = source.read()
                _, status = os.waitpid(self._pid, 0)
                self._pid = None
                if not data:
                    code = os.waitstatus_to_exitcode(status)
                    how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
                    self._outcome = ("died", f"the build's checking process ended without a result ({how}; "
                                             "out of memory?)")
                else:
                    self._outcome = pickle.loads(data)
        kind = self._outcome[0]
        if kind == "ok":
            return self._outcome[1]
        if kind == "died":
            raise StepDied(self._outcome[1])
        raise StepFailed(*self._outcome[1:])
