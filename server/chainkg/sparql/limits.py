"""The limits on running a query: a time limit, retiring a worker after a runaway, a result cache.

- `with_timeout(fn, seconds)`: run fn in an evaluator thread; `QueryTimeout` at the deadline.
- `ResultCache`: a small LRU of serialised results (the dataset is frozen, so entries never go stale).
"""

from __future__ import annotations

import queue
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from chainkg.sparql.errors import QueryTimeout

if TYPE_CHECKING:
    from chainkg.sparql.engine import QueryResult


class _Evaluator:
    """Daemon threads that evaluate queries, so a request thread can stop waiting at its deadline.

    A task always goes to an idle thread, or to a new one: never behind a (perhaps runaway) busy
    one. Threads are daemons, so a retiring worker process never waits for a runaway evaluation."""

    def __init__(self):
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0

    def submit(self, task) -> None:
        with self._lock:
            if self._idle:
                self._idle -= 1
                self._tasks.put(task)
                return
        threading.Thread(target=self._loop, args=(task,), daemon=True, name="sparql-eval").start()

    def _loop(self, task) -> None:
        while True:
            task()
            with self._lock:
                self._idle += 1
            task = self._tasks.get()


_EVALUATOR = _Evaluator()


def with_timeout(fn, timeout: float | None):
    """fn() in an evaluator thread; QueryTimeout if it has not finished after timeout seconds."""
    if not timeout:
        return fn()
    box: dict = {}
    done = threading.Event()

    def task():
        try:
            box["value"] = fn()
        except BaseException as e:  # handed to the waiting request thread, without its frames:
            # they may hold Oxigraph result iterators, which must be dropped on this thread
            box["error"] = e.with_traceback(None)
            if e.__context__ is not None:
                e.__context__.__traceback__ = None
        finally:
            done.set()

    _EVALUATOR.submit(task)
    if not done.wait(timeout):
        raise QueryTimeout(f"the query ran longer than the time limit of {timeout:g} s and was stopped; "
                           "narrow it down (LIMIT, more specific patterns) and try again")
    if "error" in box:
        raise box["error"]
    return box["value"]


class ResultCache:
    """A small LRU of serialised results (the dataset is immutable, so entries never go stale)."""

    def __init__(self, entries: int = 1024, max_body: int = 512_000):
        self.entries, self.max_body = entries, max_body
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key, value: QueryResult) -> None:
        if len(value.body) > self.max_body:
            return
        with self._lock:
            self._data[key] = value
            while len(self._data) > self.entries:
                self._data.popitem(last=False)
