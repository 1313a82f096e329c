"""A counting HTTP proxy in front of a real SPARQL store, for tests and measurements of how many
calls `chainkg serve --store` makes: `serve --store` is pointed at the proxy's URL, the proxy
forwards each request unchanged to the store and counts it (with the query text it carried)."""

from __future__ import annotations

import http.client
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class CountingProxy:
    """Forwards every request on 127.0.0.1:PORT/PATH to `upstream` (a store's query URL) and counts them."""

    def __init__(self, upstream: str):
        self.upstream = urllib.parse.urlsplit(upstream)
        self.queries: list[str] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
                with proxy.lock:
                    proxy.queries.append((form.get("query") or [""])[0])
                up = proxy.upstream
                http.client._MAXHEADERS = max(http.client._MAXHEADERS, body.count(b"graph-uri=") + 100)  # Virtuoso echoes each
                conn = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "accept", "user-agent")}
                    conn.request("POST", up.path + (f"?{up.query}" if up.query else ""), body=body, headers=headers)
                    r = conn.getresponse()
                    data = r.read()
                    self.send_response(r.status)
                    for k in ("Content-Type", "X-SQL-State"):
                        if r.getheader(k):
                            self.send_header(k, r.getheader(k))
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    conn.close()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{self.upstream.path}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def calls(self) -> int:
        with self.lock:
            return len(self.queries)

    def reset(self) -> None:
        with self.lock:
            self.queries.clear()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
