"""The SERVICE gateway: the only way out of the evaluators' network namespace, to allowed endpoints only.

Started by `chainkg serve --allow-service IRI ...`. Its listening socket was created inside the
zygote's namespace (on that namespace's loopback, the one address an evaluator can reach); the
gateway process, outside, accepts on it and forwards `/service/{i}?...` to the i-th allowed
endpoint, and nowhere else: the path picks an index into the operator's list, never a URL. Request
and response sizes and the time are bounded.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger("chainkg.gateway")
MAX_REQUEST = 1 << 20
MAX_RESPONSE = 64 << 20
FORWARDED_HEADERS = ("Accept", "Content-Type", "User-Agent")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect could lead anywhere: not followed
        return None


def _handler(allowlist: tuple[str, ...], timeout: float):
    opener = urllib.request.build_opener(_NoRedirect)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            log.info("%s", fmt % args)

        def _forward(self, method: str) -> None:
            path, _, query = self.path.partition("?")
            parts = path.strip("/").split("/")
            if len(parts) != 2 or parts[0] != "service" or not parts[1].isdigit() or int(parts[1]) >= len(allowlist):
                return self._answer(404, b"not an allowed SERVICE endpoint\n", "text/plain")
            target = allowlist[int(parts[1])]
            if query:
                target += ("&" if "?" in target else "?") + query
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_REQUEST:
                return self._answer(413, b"request too large\n", "text/plain")
            body = self.rfile.read(length) if length else None
            headers = {h: self.headers[h] for h in FORWARDED_HEADERS if self.headers.get(h)}
            req = urllib.request.Request(target, data=body, method=method, headers=headers)
            try:
                with opener.open(req, timeout=timeout) as r:
                    data = r.read(MAX_RESPONSE + 1)
                    status, ctype = r.status, r.headers.get("Content-Type", "application/octet-stream")
            except urllib.error.HTTPError as e:
                data, status, ctype = e.read(MAX_RESPONSE + 1), e.code, e.headers.get("Content-Type", "text/plain")
            except (OSError, ValueError) as e:
                return self._answer(502, f"the SERVICE endpoint did not answer: {e}\n".encode(), "text/plain")
            if len(data) > MAX_RESPONSE:
                return self._answer(502, b"the SERVICE answer is larger than the gateway's limit\n", "text/plain")
            self._answer(status, data, ctype)

        def _answer(self, status: int, data: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

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
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                from chainkg.sparql.sandbox import _die_with_parent

                _die_with_parent()
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.allowlist, self.timeout),
                                             bind_and_activate=False)
                server.socket.close()
                server.socket = self.sock
                server.daemon_threads = True
                server.serve_forever()
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        self.pid = pid

    def stop(self) -> None:
        from chainkg.sparql.sandbox import kill_and_reap

        kill_and_reap(self.pid)
        self.pid = None
