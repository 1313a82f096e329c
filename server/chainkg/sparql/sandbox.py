"""Evaluation processes that cannot reach the network, and are bounded in time and memory.

A scanner that reads the query text can be fooled; this module makes the guarantee hold whatever
the text says. `chainkg serve` starts one **zygote** process after the dataset is loaded and
before the web workers fork:

- the zygote enters a new, empty network namespace (`unshare(CLONE_NEWNET)`; as a non-root user,
  inside a new user namespace): from then on neither it nor any process it forks can open a
  connection to any host, loopback included. It listens on a Unix socket bound to a path (such
  sockets are files, reachable from the web workers' namespace) and forks one **evaluator** per
  connection; it never evaluates anything itself, so it stays single-threaded and every fork is
  clean.
- an evaluator holds the frozen dataset, runs jobs sent over its connection (`JOBS`: a query to
  serialise, a page of a saved query) and sends back the answer. A dataset served from the build
  cache is a pair of on-disk stores: every evaluator opens its own read-only handles right after
  it is forked (RocksDB does not promise that handles opened before a fork work in the child; a
  few milliseconds, `FrozenDataset.open_here`) and reads the same files (through the OS page
  cache, shared by every process), so an evaluator costs its own allocations, not a copy of the
  data. A dataset built in memory (`serve --data`) is inherited copy-on-write.
- the web worker's `Pool` keeps idle evaluators, sends a job, and waits: past the time limit, or
  when the evaluator's *anonymous* resident memory has grown by more than the memory limit (read
  from /proc every 20 ms), it SIGKILLs the evaluator and answers 503. Anonymous memory is what the
  query allocates; pages of files (a store read through mmap, shared libraries) are not counted,
  so reading a large store is never mistaken for a runaway query. An evaluator that died (a parser
  stack overflow, an allocation failure) costs one 500/503 answer and a fresh fork, never a web
  worker. Memory comes back with the killed process; an evaluator whose anonymous memory has grown
  past `RECYCLE_GROWTH` is retired.

The wire format is a length-prefixed JSON header plus raw body bytes, in both directions (no
pickle: a compromised evaluator must not be able to run code in the web worker).
"""

from __future__ import annotations

import ctypes
import faulthandler
import json
import logging
import os
import resource
import select
import signal
import socket
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from chainkg.sparql import errors

log = logging.getLogger("chainkg.sandbox")

CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
PR_SET_PDEATHSIG = 1
_HEADER = struct.Struct("!IQ")  # JSON header length, body length
RECYCLE_GROWTH = 256 << 20  # an idle evaluator that grew by more than this is retired, not reused
POLL_S = 0.02


class SandboxError(RuntimeError):
    """The evaluation processes could not be isolated or started."""


class MemoryLimitExceeded(errors.QueryError):
    """The evaluation grew past the memory limit and was stopped."""

    status = 503


# -- isolation primitives -------------------------------------------------------------------------
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def isolate_network() -> str:
    """Move this process into a new network namespace with no interface up: no connection to any
    host (loopback included) can be made from it or its children afterwards. Must be called while
    the process has a single thread. Returns how it was done; raises SandboxError if it cannot."""
    if _libc.unshare(CLONE_NEWNET) == 0:
        return "network namespace"
    first = os.strerror(ctypes.get_errno())
    uid, gid = os.getuid(), os.getgid()
    if _libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0:
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
        Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
        return "user + network namespace"
    raise SandboxError(
        f"cannot isolate query evaluation from the network: unshare(CLONE_NEWNET) failed ({first}) and "
        f"unshare(CLONE_NEWUSER|CLONE_NEWNET) failed ({os.strerror(ctypes.get_errno())}). Run as root, enable "
        "unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1), or accept the risk with "
        "chainkg serve --no-sandbox")


def _loopback_up() -> None:
    """Bring up `lo` in this (new) network namespace: ioctl SIOCGIFFLAGS / SIOCSIFFLAGS with IFF_UP."""
    import fcntl

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH14s", b"lo", 0, b"\0" * 14)
        flags = struct.unpack("16sH", fcntl.ioctl(s, siocgifflags, ifreq)[:18])[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sH14s", b"lo", flags | iff_up, b"\0" * 14))


def network_reachable(host: str = "127.0.0.1", port: int = 9) -> bool:
    """True if this process can open (or is refused) a TCP connection: used to prove isolation."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except ConnectionRefusedError:
        return True  # a refusal means the host was reached
    except OSError:
        return False


# -- framing --------------------------------------------------------------------------------------
def send_frame(sock: socket.socket, header: dict, body: bytes = b"") -> None:
    head = json.dumps(header, ensure_ascii=False).encode()
    sock.sendall(_HEADER.pack(len(head), len(body)) + head + body)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise EOFError("connection closed")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def recv_frame(sock: socket.socket) -> tuple[dict, bytes]:
    head_len, body_len = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    header = json.loads(_recv_exact(sock, head_len))
    return header, _recv_exact(sock, body_len) if body_len else b""


# -- the evaluator (inside the sandbox) -----------------------------------------------------------
# job name -> fn(dataset, spec) -> (header dict, body bytes); registered by the modules that own them
JOBS: dict[str, Callable] = {}


def job(name: str):
    def register(fn):
        JOBS[name] = fn
        return fn
    return register


def _error_header(e: BaseException) -> dict:
    if isinstance(e, errors.QueryError):
        return {"error": type(e).__name__, "status": e.status, "message": e.message}
    return {"error": "EvaluationError", "status": 500, "message": f"the query failed while running: {e}"}


def _evaluator_main(conn: socket.socket, dataset) -> None:
    # its own read-only store handles, opened after the fork (never the zygote's or the master's),
    # before it reports ready: the pool's memory baseline then includes them
    opened_s = dataset.open_here() if hasattr(dataset, "open_here") else 0.0
    send_frame(conn, {"pid": os.getpid(), "open_s": opened_s})
    while True:
        try:
            request, body = recv_frame(conn)
        except (EOFError, OSError):
            return
        try:
            fn = JOBS[request["job"]]
            header, out = fn(dataset, request["spec"])
            header = {"ok": True, **header}
        except Exception as e:  # every failure goes back as an answer, never as a dead evaluator
            header, out = {"ok": False, **_error_header(e)}, b""
        send_frame(conn, header, out)


# -- the zygote -----------------------------------------------------------------------------------
class Zygote:
    """The process that forks evaluators; started by `chainkg serve` before the web workers fork."""

    def __init__(self, dataset, *, isolate: bool = True, memory_limit: int | None = None, gateway: bool = False):
        self.dataset, self.isolate, self.memory_limit = dataset, isolate, memory_limit
        self.folder = Path(tempfile.mkdtemp(prefix="chainkg-eval-"))
        self.path = str(self.folder / "eval.sock")
        self.pid: int | None = None
        self.isolation = "none"
        self.want_gateway = gateway
        self.gateway_socket: socket.socket | None = None  # created inside the zygote's namespace
        self.gateway_address: str | None = None

    def service_rewrites(self, allowlist) -> dict[str, str]:
        """Each allowed SERVICE IRI -> the gateway address that forwards to it (empty without a gateway)."""
        if not self.gateway_address:
            return {}
        return {iri: f"{self.gateway_address}/service/{i}" for i, iri in enumerate(allowlist)}

    def start(self) -> str:
        """Fork the zygote; return how it is isolated once it is ready (raises SandboxError)."""
        import chainkg.sparql.engine  # noqa: F401  (registers the jobs before the fork)

        if hasattr(self.dataset, "prepare"):  # an in-memory dataset: derive its union stores once, here
            self.dataset.prepare()

        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.path)
        os.chmod(self.path, 0o600)
        listener.listen(128)
        ready_r, ready_w = os.pipe()
        fd_parent, fd_child = socket.socketpair()
        pid = os.fork()
        if pid == 0:  # the zygote
            os.close(ready_r)
            fd_parent.close()
            status = 0
            try:
                _die_with_parent()
                how = isolate_network() if self.isolate else "none (--no-sandbox)"
                if self.want_gateway:  # the one address reachable from the namespace: the gateway's
                    if self.isolate:
                        _loopback_up()
                    gw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    gw.bind(("127.0.0.1", 0))
                    gw.listen(64)
                    socket.send_fds(fd_child, [b"gateway"], [gw.fileno()])
                    gw.close()
                fd_child.close()
                os.write(ready_w, json.dumps({"ok": True, "isolation": how}).encode())
                os.close(ready_w)
                self._loop(listener)
            except BaseException as e:
                try:
                    os.write(ready_w, json.dumps({"ok": False, "error": str(e)}).encode())
                except OSError:
                    pass
                status = 1
            finally:
                os._exit(status)
        os.close(ready_w)
        fd_child.close()
        listener.close()
        self.pid = pid
        if self.want_gateway:
            fd_parent.settimeout(30)
            try:
                _, fds, _, _ = socket.recv_fds(fd_parent, 16, 1)
            except OSError:
                fds = []
            if fds:
                self.gateway_socket = socket.socket(fileno=fds[0])
                self.gateway_address = f"http://127.0.0.1:{self.gateway_socket.getsockname()[1]}"
        fd_parent.close()
        with os.fdopen(ready_r, "rb") as f:
            answer = json.loads(f.read() or b'{"ok": false, "error": "the zygote died while starting"}')
        if not answer["ok"]:
            raise SandboxError(answer["error"])
        self.isolation = answer["isolation"]
        return self.isolation

    def _loop(self, listener: socket.socket) -> None:
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # evaluators are reaped by the kernel
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server's master decides when we stop
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        while True:
            conn, _ = listener.accept()
            if os.fork() == 0:
                listener.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                code = 0
                try:
                    _die_with_parent()
                    faulthandler.disable()  # a crash here is reported by the pool, not as a stack dump
                    if self.memory_limit:  # a backstop: the pool's RSS watch normally stops it first
                        vm = _vm_size(os.getpid())
                        limit = vm + 2 * self.memory_limit
                        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
                    _evaluator_main(conn, self.dataset)
                except BaseException:
                    code = 1
                finally:
                    os._exit(code)
            conn.close()

    def stop(self) -> None:
        kill_and_reap(self.pid)
        self.pid = None
        try:
            os.unlink(self.path)
            self.folder.rmdir()
        except OSError:
            pass


def fork_service(run) -> int:
    """Fork a service child (the SERVICE gateway, the store gateway): it dies with this process,
    leaves Ctrl-C to the server's master, runs `run()` and exits (status 1 if it raised). Returns
    the child's pid to the parent."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            _die_with_parent()
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            run()
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    return pid


def kill_and_reap(pid: int | None) -> None:
    """SIGKILL a child process of ours and wait for it (nothing if it is already gone)."""
    if not pid:
        return
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def _statm(pid: int) -> tuple[int, int]:
    with open(f"/proc/{pid}/statm", "rb") as f:
        size, resident = f.read().split()[:2]
    page = os.sysconf("SC_PAGE_SIZE")
    return int(size) * page, int(resident) * page


def _vm_size(pid: int) -> int:
    return _statm(pid)[0]


def rss(pid: int) -> int:
    try:
        return _statm(pid)[1]
    except (OSError, ValueError):
        return 0


def anon_rss(pid: int) -> int:
    """Resident anonymous memory of a process (RssAnon: resident minus file-backed and shared
    memory pages, from /proc/PID/statm): what it allocated, not the pages of files it reads."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            _size, resident, shared = f.read().split()[:3]
        return (int(resident) - int(shared)) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def smaps_rollup(pid: int) -> dict[str, int]:
    """The fields of /proc/PID/smaps_rollup in bytes (Rss, Pss, Private_Clean, Private_Dirty,
    Anonymous, ...), with "Private" = Private_Clean + Private_Dirty: what the process holds alone,
    the cost of one more such process. Empty when the process is gone or the file unreadable."""
    fields: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
            lines = f.read().splitlines()[1:]
        for line in lines:
            key, value = line.split(":", 1)
            fields[key] = int(value.split()[0]) * 1024
    except (OSError, ValueError):
        return {}
    fields["Private"] = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    return fields


def children(pid: int) -> list[int]:
    """The child processes of a process (from /proc/PID/task/*/children)."""
    out = []
    try:
        tasks = list(os.scandir(f"/proc/{pid}/task"))
    except OSError:
        return []
    for task in tasks:
        try:
            with open(f"{task.path}/children", encoding="ascii") as f:
                out += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


# -- the pool (in each web worker) ----------------------------------------------------------------
class _Evaluator:
    def __init__(self, sock: socket.socket, pid: int):
        self.sock, self.pid = sock, pid
        self.base_rss = self.idle_rss = anon_rss(pid)  # idle_rss: when it was last put back idle

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.sock.close()


class Pool:
    """Sends jobs to evaluator processes of a zygote, with a time and a memory limit per job."""

    def __init__(self, path: str, *, max_idle: int = 8, rewrite: dict[str, str] | None = None):
        self.path, self.max_idle = path, max_idle
        self.rewrite = rewrite or {}  # allowed SERVICE IRI -> the gateway's address for it
        self._idle: list[_Evaluator] = []
        self._owner = os.getpid()
        self._lock = threading.Lock()

    def _acquire(self) -> _Evaluator:
        with self._lock:
            if self._owner != os.getpid():  # forked: the parent's connections are not ours
                self._idle, self._owner = [], os.getpid()
            if self._idle:
                return self._idle.pop()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self.path)
            hello, _ = recv_frame(sock)
        except (OSError, EOFError) as e:
            sock.close()
            raise errors.EvaluationError(f"the query evaluation service is unavailable ({e})", status=503) from None
        return _Evaluator(sock, int(hello["pid"]))

    def _release(self, ev: _Evaluator) -> None:
        ev.idle_rss = anon_rss(ev.pid)  # an idle evaluator does not grow: the next job's baseline
        if ev.idle_rss - ev.base_rss > RECYCLE_GROWTH:
            ev.kill()  # its memory comes back with it
            return
        with self._lock:
            if len(self._idle) < self.max_idle:
                self._idle.append(ev)
                return
        ev.kill()

    def run(self, job_name: str, spec: dict, *, timeout: float | None, max_memory: int | None) -> tuple[dict, bytes]:
        """Run a job; returns its (header, body), or raises the QueryError the evaluator raised,
        QueryTimeout past `timeout` seconds, MemoryLimitExceeded past `max_memory` bytes of growth."""
        ev = self._acquire()
        start_rss = ev.idle_rss  # one read of /proc per job, not two (a tenth of a millisecond)
        try:
            send_frame(ev.sock, {"job": job_name, "spec": spec})
        except OSError:  # it died while idle: one retry on a fresh evaluator
            ev.kill()
            ev = self._acquire()
            start_rss = anon_rss(ev.pid)
            send_frame(ev.sock, {"job": job_name, "spec": spec})
        deadline = time.monotonic() + timeout if timeout else None
        while True:
            ready, _, _ = select.select([ev.sock], [], [], POLL_S)
            if ready:
                break
            if deadline is not None and time.monotonic() > deadline:
                ev.kill()
                log.warning("evaluator %d killed: the query passed the time limit of %g s", ev.pid, timeout)
                raise errors.QueryTimeout(
                    f"the query ran longer than the time limit of {timeout:g} s and was stopped; "
                    "narrow it down (LIMIT, more specific patterns) and try again")
            if max_memory and anon_rss(ev.pid) - start_rss > max_memory:
                ev.kill()
                log.warning("evaluator %d killed: the query grew past the memory limit of %d bytes", ev.pid, max_memory)
                raise MemoryLimitExceeded(
                    f"the query needed more than the memory limit of {max_memory / 2**20:.0f} MiB and was stopped; "
                    "narrow it down (LIMIT, fewer variables in DISTINCT / ORDER BY, more specific patterns)")
        try:
            header, body = recv_frame(ev.sock)
        except (EOFError, OSError):
            ev.kill()
            log.warning("evaluator %d died while evaluating a query", ev.pid)
            raise errors.EvaluationError(
                "the query engine stopped unexpectedly on this query (its evaluation process died); "
                "if the query is very large or deeply nested, simplify it", status=500) from None
        self._release(ev)
        if not header.get("ok"):
            name = header.get("error", "")
            cls = MemoryLimitExceeded if name == "MemoryLimitExceeded" else getattr(errors, name, None)
            if not (isinstance(cls, type) and issubclass(cls, errors.QueryError)) or cls is errors.EvaluationError:
                raise errors.EvaluationError(header.get("message", "the query failed"), status=int(header.get("status", 500)))
            raise cls(header["message"])
        return header, body

    def close(self) -> None:
        with self._lock:
            for ev in self._idle:
                ev.kill()
            self._idle = []


class InProcess:
    """The same interface without processes: for tests and the CLI (the operator's own queries).
    The time limit is kept by a watcher thread; there is no memory limit and no network isolation."""

    def run(self, job_name: str, spec: dict, *, timeout: float | None, max_memory: int | None) -> tuple[dict, bytes]:
        from chainkg.sparql.limits import with_timeout

        return with_timeout(lambda: JOBS[job_name](self.dataset, spec), timeout)

    def __init__(self, dataset):
        self.dataset = dataset
        self.rewrite: dict[str, str] = {}
