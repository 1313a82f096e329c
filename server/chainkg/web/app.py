"""The Flask application factory. Nothing happens at import time.

Blueprints, one per area:
- sparql       /sparql (SPARQL 1.1 Protocol, Service Description)       -> sparql.py
- linked_data  /id/..., /ontology, /source/..., /claim/..., /dumps/, /.well-known/void -> linked_data.py
- api          /api/queries..., /api/openapi.json                        -> api.py
- ui           /, /queries/{name}, /chain-map                            -> ui.py
"""

from __future__ import annotations

import importlib
import logging
import time
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, Response, g, jsonify, request

from chainkg.build.dataset import FrozenDataset
from chainkg.config import Config

BLUEPRINTS = ("sparql", "linked_data", "api", "ui", "reconcile", "search")
log = logging.getLogger("chainkg.http")
LICENSE = "https://creativecommons.org/licenses/by/4.0/"
# What every page may load: its own scripts, styles, images and fetches, nothing inline (the pages
# keep their scripts and styles in static/; JSON data blocks are not scripts), no frames, no <base>.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "font-src 'self'",
    "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
))
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers without CSP level 2
}


def create_app(config: Config | None = None, dataset: FrozenDataset | None = None) -> Flask:
    """Build the app around a frozen dataset (built, or loaded from the cache, if not given).

    The dataset is complete before the app exists: the server never serves a half-built graph."""
    config = config or Config()
    if dataset is None:
        from chainkg.build.pipeline import build

        dataset = build(config).dataset
    app = Flask(__name__)
    app.config["CHAINKG"] = config
    app.config["DATASET"] = dataset
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    for name in BLUEPRINTS:
        try:
            module = importlib.import_module(f".{name}", __package__)
        except ModuleNotFoundError as e:
            if e.name == f"{__package__}.{name}":
                continue  # area not built yet
            raise
        app.register_blueprint(module.bp)

    @app.before_request
    def _start_timer():
        g.t0 = time.perf_counter()

    @app.after_request
    def _headers(response: Response) -> Response:
        return secure_headers(response)

    @app.after_request
    def _log(response):
        ms = (time.perf_counter() - g.get("t0", time.perf_counter())) * 1000
        log.info("%s %s %s %d %.1fms", request.remote_addr, request.method, request.full_path.rstrip("?"),
                 response.status_code, ms)
        return response

    from chainkg.sparql.remote import StoreUnavailable

    @app.errorhandler(StoreUnavailable)
    def _store_unavailable(e: StoreUnavailable):
        """serve --store: a page whose store did not answer (502; 504 when too slow)."""
        return Response(f"{e.message}\n", status=e.status, mimetype="text/plain")

    @app.get("/healthz")
    def healthz():
        """200 "ok"; 200 "degraded" when the inputs did not build and the last good build is served
        (the data served is whole and consistent, so a load balancer must keep the instance; monitors
        alert on the field); 503 "error" when the store does not hold what its build recorded."""
        stats = dataset.meta.get("stats", {})
        if getattr(dataset, "remote", False):  # serve --store: the store answers, or the instance is degraded
            from chainkg.sparql.remote import store_health

            return jsonify(store_health(dataset))
        quads = len(dataset.store)
        body = {"status": "ok", "version": dataset.version, "inputs_built": not dataset.stale,
                "quads": quads, "claims": stats.get("claim_graphs"), "inferred": stats.get("inferred_triples")}
        if dataset.stale:
            body["status"] = "degraded"
            lines = [ln.strip() for ln in (dataset.build_error or "").splitlines() if ln.strip()]
            body["error"] = (lines[0] if lines else "the inputs did not build")[:500]
        if stats.get("quads") is not None and quads != stats.get("quads"):
            body["status"] = "error"
            body["error"] = f"the store holds {quads} quads, its build recorded {stats.get('quads')}"
            return jsonify(body), 503
        return jsonify(body)

    return app


def secure_headers(response: Response) -> Response:
    """On every response: the licence link, nosniff, a referrer policy, the CSP on HTML and SVG,
    and a Location header that never names the Host a client sent (the trailing-slash redirects
    of the router are built from it): a redirect on this server is relative."""
    links = response.headers.get("Link", "")
    if 'rel="license"' not in links:
        response.headers["Link"] = (links + ", " if links else "") + f'<{LICENSE}>; rel="license"'
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if response.mimetype in ("text/html", "application/xhtml+xml", "image/svg+xml"):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    location = response.headers.get("Location")
    if location:
        parts = urlsplit(location)
        if parts.netloc and parts.netloc.lower() == request.host.lower():
            path = "/" + parts.path.lstrip("/")  # never "//host/...", which a browser reads as another host
            response.headers["Location"] = urlunsplit(("", "", path, parts.query, parts.fragment))
    return response


def dataset_of(app: Flask) -> FrozenDataset:
    return app.config["DATASET"]
