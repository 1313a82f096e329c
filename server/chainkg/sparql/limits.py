"""The limits on running a query: a time limit, retiring a worker after a runaway, a result cache.

- `with_timeout(fn, seconds)`: run fn in an evaluator thread; `QueryTimeout` at the deadline.
- `ResultCache`: an LRU of results bounded by entries and bytes (the dataset is frozen: never stale).
"""

from __future__ import annotations

import queue
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from chainkg.sparql.errors import QueryTimeout

if TYPE_CHECKING:
    pass


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
    """An LRU of results bounded by entries and by bytes (the dataset is immutable, so entries never
    go stale). `size(value)` estimates a value's bytes (default: the length of its `.body`); a value
    larger than `max_entry` is not kept. Memory is bounded whatever the clients ask."""

    def __init__(self, entries: int = 1024, max_bytes: int = 32 << 20, max_entry: int = 512_000, size=None):
        self.entries, self.max_bytes, self.max_entry = entries, max_bytes, max_entry
        self.size = size or (lambda value: len(value.body) + 200)
        self._data: OrderedDict = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def get(self, key):
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            self._data.move_to_end(key)
            return item[0]

    def put(self, key, value, n: int | None = None) -> None:
        """Keep value under key (n: its size in bytes, else estimated by `size`)."""
        n = max(1, self.size(value) if n is None else n)
        if n > self.max_entry:
            return
        with self._lock:
            if key in self._data:
                self._bytes -= self._data.pop(key)[1]
            self._data[key] = (value, n)
            self._bytes += n
            while len(self._data) > self.entries or self._bytes > self.max_bytes:
                self._bytes -= self._data.popitem(last=False)[1][1]
