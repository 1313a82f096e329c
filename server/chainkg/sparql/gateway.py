"""The SERVICE gateway: the only way out of the evaluators' network namespace, to allowed endpoints only.

Started by `chainkg serve --allow-service IRI ...`. Its listening socket was created inside the
zygote's namespace (on that namespace's loopback, the one address an evaluator can reach); the
gateway process, outside, accepts on it and forwards `/service/{i}` to the i-th allowed
endpoint, and nowhere else: the path picks an index into the operator's list, never a URL.

Every call is bounded, whatever the remote does:

- **time**: one deadline per call (name lookup, connect, request, status line, headers and body
  together), kept by a watchdog that shuts the remote's socket down when it passes: a remote that
  never answers, stalls after its headers or trickles a byte a second gets a 504 at the deadline,
  not one socket timeout per read. A name lookup cannot be interrupted: one that returns late ends
  the call at once (the web worker's limit bounds one that hangs); an unreachable first address
  leaves the next addresses only the time left, not the whole limit each. The deadline is `DEADLINE_SHARE` of the query time limit, so the
  evaluator still has time to report which endpoint failed before the web worker's own limit
  (which bounds the whole query in any case) kills it.
- **bytes**: a declared Content-Length over `MAX_RESPONSE` is refused before the body is read; an
  undeclared (chunked or close-delimited) body is read until the next block would pass `MAX_RESPONSE`,
  then refused; the body is held once (one buffer grown in place), so `MAX_CALLS` calls hold at most
  `MAX_CALLS * MAX_RESPONSE` (1 GiB) of answers. Requests over `MAX_REQUEST` are refused; at most
  `MAX_CALLS` calls run at once (503 beyond).
- **place**: redirects are never followed (http.client does not follow them; a 3xx becomes a 502
  naming where it pointed): a remote cannot send the gateway somewhere the operator did not allow.

Failures are answered with a plain-text body that names the allowed endpoint and what went wrong;
the engine quotes it in its error (or, with SERVICE SILENT, the part is empty).
"""

from __future__ import annotations

import http.client
import logging
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger("chainkg.gateway")
MAX_REQUEST = 1 << 20
MAX_RESPONSE = 64 << 20
MAX_CALLS = 16  # calls forwarded at once: the answers held bound the gateway's memory to MAX_CALLS * MAX_RESPONSE
DEADLINE_SHARE = 0.9  # of the query time limit, for one SERVICE call
CHUNK = 1 << 16
FORWARDED_HEADERS = ("Accept", "Content-Type", "User-Agent")


class CallFailed(Exception):
    """A forwarded call that gives no usable answer: (status for the evaluator, one-line reason)."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


class _Watchdog:
    """One call's deadline. `connect` opens the connection in the time left (the resolver and every
    address of the host share it: of n addresses left, the next may take 1/n of the time left, so a
    dead first address leaves the others time, and none gets the full limit for itself); from the
    first socket on, a timer shuts the connection down at the deadline, so whatever is blocked on it
    (connect, TLS handshake, request, headers, body) returns."""

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + max(0.0, seconds)
        self.fired = False
        self._lock = threading.Lock()
        # a duplicate of the socket's descriptor: shutdown acts on the connection, so it still works
        # after TLS wraps (detaches) the socket or http.client drops conn.sock for a close-delimited body
        self._watched: socket.socket | None = None
        self.timer = threading.Timer(max(0.0, seconds), self._fire)
        self.timer.daemon = True
        self.timer.start()

    def left(self) -> float:
        """Seconds until the deadline; TimeoutError once it has passed."""
        left = self.deadline - time.monotonic()
        if left <= 0 or self.fired:
            raise TimeoutError("timed out")
        return left

    def _watch(self, sock: socket.socket) -> None:
        dup = sock.dup()
        with self._lock:
            old, self._watched = self._watched, dup
            if self.fired:  # the deadline passed while this socket was being made
                _shutdown(dup)
        if old is not None:
            old.close()

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            if self._watched is not None:
                _shutdown(self._watched)

    def connect(self, address, timeout=None, source_address=None) -> socket.socket:
        """socket.create_connection within the deadline (http.client's `_create_connection`)."""
        host, port = address
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)  # not interruptible: checked after
        error: OSError = OSError(f"no address for {host}")
        for k, (family, kind, proto, _, addr) in enumerate(infos):
            sock = socket.socket(family, kind, proto)
            try:
                self._watch(sock)
                sock.settimeout(self.left() / (len(infos) - k))  # a share of the time left: the next may answer
                sock.connect(addr)
                sock.settimeout(self.left())  # each read and write: at most the time left
                return sock
            except OSError as e:
                sock.close()
                if self.fired or self.deadline <= time.monotonic():
                    raise TimeoutError("timed out") from None
                error = e  # refused, unreachable, its share passed: the next address, in the time left
        raise error

    def cancel(self) -> None:
        self.timer.cancel()
        with self._lock:
            watched, self._watched = self._watched, None
        if watched is not None:
            watched.close()


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def forward(target: str, method: str, body: bytes | None, headers: dict, *, time_limit: float,
            max_bytes: int = MAX_RESPONSE) -> tuple[int, str, bytes | bytearray]:
    """One HTTP call to `target` within `time_limit` seconds and `max_bytes` of body; never follows
    a redirect. Returns (status, content type, body); raises CallFailed."""
    url = urllib.parse.urlsplit(target)
    try:
        port = url.port
    except ValueError:
        raise CallFailed(502, "has an invalid port") from None
    if url.scheme not in ("http", "https") or not url.hostname:
        raise CallFailed(502, "not an http(s) URL")
    cls = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    conn = cls(url.hostname, port, timeout=time_limit)
    watchdog = _Watchdog(time_limit)
    conn._create_connection = watchdog.connect  # the resolver and each address within the deadline
    started, response, connected = time.monotonic(), None, False
    try:
        conn.connect()
        connected = True
        conn.sock.settimeout(watchdog.left())  # after a TLS handshake, what is left
        conn.request(method, (url.path or "/") + (f"?{url.query}" if url.query else ""), body=body, headers=headers)
        response = conn.getresponse()
        status, ctype = response.status, response.getheader("Content-Type", "application/octet-stream")
        if 300 <= status < 400:
            where = response.getheader("Location", "(no Location)")
            raise CallFailed(502, f"answered {status} redirecting to {where[:200]}; redirects are not followed "
                                  "(allow that endpoint itself with --allow-service if it is meant)")
        if response.length is not None and response.length > max_bytes:
            raise CallFailed(502, f"declared an answer of {response.length} bytes, over the gateway's limit of "
                                  f"{max_bytes} bytes; nothing was read")
        data = bytearray()  # one copy of the body, grown in place (and handed on as it is)
        while True:
            chunk = response.read1(CHUNK)
            if not chunk:
                break
            if len(data) + len(chunk) > max_bytes:
                raise CallFailed(502, f"sent an answer larger than the gateway's limit of {max_bytes} bytes; "
                                      f"it was cut off after {len(data) + len(chunk)} bytes")
            data += chunk
        if watchdog.fired:  # the shutdown may end a body early without an error: not an answer
            raise OSError("timed out")
        return status, ctype, data
    except CallFailed:
        raise
    except (OSError, http.client.HTTPException, ValueError) as e:
        if watchdog.fired or isinstance(e, TimeoutError):
            raise CallFailed(504, f"did not answer within {time_limit:g} s (the SERVICE time limit, "
                                  f"{DEADLINE_SHARE:.0%} of the query's); gave up after "
                                  f"{time.monotonic() - started:.1f} s") from None
        what = "gave no valid HTTP answer" if connected else "could not be reached"
        raise CallFailed(502, f"{what}: {e or type(e).__name__}") from None
    finally:
        watchdog.cancel()
        if response is not None:
            response.close()  # a close-delimited body holds the socket here, not in conn
        conn.close()


def _handler(allowlist: tuple[str, ...], timeout: float):
    calls = threading.BoundedSemaphore(MAX_CALLS)
    time_limit = max(0.1, timeout * DEADLINE_SHARE)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            log.info("%s", fmt % args)

        def _forward(self, method: str) -> None:
            path = self.path.partition("?")[0]  # the evaluator's query string is not forwarded: the IRI is
            parts = path.strip("/").split("/")
            if len(parts) != 2 or parts[0] != "service" or not parts[1].isdigit() or int(parts[1]) >= len(allowlist):
                return self._answer(404, b"not an allowed SERVICE endpoint\n", "text/plain")
            iri = allowlist[int(parts[1])]  # called exactly as the operator wrote it
            length = self.headers.get("Content-Length") or "0"
            if not length.isdigit():
                return self._answer(400, b"bad Content-Length\n", "text/plain")
            if int(length) > MAX_REQUEST:
                return self._answer(413, b"request too large\n", "text/plain")
            body = self.rfile.read(int(length)) if int(length) else None
            headers = {h: self.headers[h] for h in FORWARDED_HEADERS if self.headers.get(h)}
            if not calls.acquire(timeout=min(1.0, time_limit)):
                return self._answer(503, f"the SERVICE endpoint {iri} was not called: {MAX_CALLS} SERVICE calls "
                                         "are already in progress\n".encode(), "text/plain")
            try:
                status, ctype, data = forward(iri, method, body, headers, time_limit=time_limit)
            except CallFailed as e:
                log.warning("SERVICE %s %s", iri, e.reason)
                return self._answer(e.status, f"the SERVICE endpoint {iri} {e.reason}\n".encode(), "text/plain")
            finally:
                calls.release()
            if status >= 400:  # the remote's own error, said to be the remote's
                data = f"the SERVICE endpoint {iri} answered {status}: ".encode() + data[:4000]
                ctype = "text/plain; charset=utf-8"
            self._answer(status, data, ctype)

        def _answer(self, status: int, data: bytes, ctype: str) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the evaluator was killed meanwhile (its query passed the time limit)
                self.close_connection = True

        def do_GET(self):
            self._forward("GET")

        def do_POST(self):
            self._forward("POST")

    return Handler


class Gateway:
    """A process serving the forwarding handler on a socket it was handed."""

    def __init__(self, sock: socket.socket, allowlist, timeout: float = 10.0):
        self.sock, self.allowlist, self.timeout = sock, tuple(allowlist), timeout
        self.pid: int | None = None

    def start(self) -> None:
        from chainkg.sparql.sandbox import fork_service

        self.pid = fork_service(self._serve)

    def _serve(self) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.allowlist, self.timeout), bind_and_activate=False)
        server.socket.close()
        server.socket = self.sock
        server.daemon_threads = True
        server.serve_forever()

    def stop(self) -> None:
        from chainkg.sparql.sandbox import kill_and_reap

        kill_and_reap(self.pid)
        self.pid = None
