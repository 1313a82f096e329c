"""The production server: the Flask app under gunicorn with gevent workers, queries in sandboxed evaluators.

Never Flask's development server. The process tree of `chainkg serve` (default, gunicorn):

    master     builds the dataset (or loads the verified cache) once, then forks:
    |- zygote    enters an empty network namespace; forks one evaluator per connection
    |  `- evaluators  run queries (no network, killed past the time or memory limit)
    |- gateway   only with --allow-service: forwards SERVICE calls to the allowed endpoints
    `- web workers (gevent)  HTTP, pages; each enters its own empty network namespace at fork

- **No network from a query, by construction**: evaluators and web workers live in network
  namespaces with no interface up; only the listening socket, inherited, stays reachable. A
  SERVICE call, an IRI that a parser would fetch, anything: the connect fails. With
  `--allow-service`, the zygote's namespace has a loopback on which only the gateway listens
  (its socket, created there, is served by a process outside), and the engine rewrites each
  allowed SERVICE IRI to the gateway's address for that endpoint: nothing else is reachable.
- **Slow and many clients**: gevent workers hold a slow client in a greenlet, not a thread;
  request heads must arrive within `keepalive` seconds, bodies within `Config.client_timeout_s`
  (408), and a body over `Config.max_body_bytes` gets 413 whether or not it is chunked
  (`BodyLimit`, before the app sees it).
- **Bounded evaluation**: see `chainkg.sparql.sandbox`.
- **One copy of the data**: the master opens the verified build's on-disk stores read-only
  (`build/cache/<version>/store` and `.../asserted`) and forks; the web workers, the zygote and
  the evaluators read the same files through the OS page cache, so a worker costs its own
  allocations, not a copy of the dataset. Only `--data` files are held in memory (their union
  stores derived once in the master by `Zygote.start`, inherited copy-on-write).

Measured (scripts/storm.py, scripts/benchmark_sparql.py): see README.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from chainkg.config import Config

LOG_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
SERVERS = ("gunicorn", "granian")


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    threads: int = 8  # granian: blocking threads per worker; gunicorn: ignored (gevent), see connections
    connections: int = 1000  # gunicorn: simultaneous clients per worker
    server: str = "gunicorn"
    data: tuple[str, ...] = field(default_factory=tuple)  # FILE or FILE=GRAPH-IRI; empty: build the project
    base: str | None = None  # --data: the base IRI of relative IRIs (default: each file's file:// URL)
    union_default_graph: bool = False  # --data: the default graph is the union, not the unnamed graph
    log_level: str = "info"
    sandbox: bool = True  # False: evaluators may reach the network (an operator's explicit choice)
    store: str | None = None  # an external SPARQL query endpoint to answer from (chainkg.sparql.remote)


def configure_logging(level: str = "info") -> None:
    """One line per request (chainkg.http) and the server's own messages, on stderr."""
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT, stream=sys.stderr, force=True)


def load_dataset(config: Config, data: tuple[str, ...] = (), base: str | None = None, union_default_graph: bool = False):
    from chainkg.build.pipeline import build

    if data:  # the SPARQL dataset of these files (chainkg.build.datafiles)
        from chainkg.build.datafiles import load_files

        return load_files(data, base=base, union_default_graph=union_default_graph)
    # fallback: broken inputs serve the newest verified build (said loudly; /healthz says degraded)
    return build(config, fallback=True, progress=lambda m: logging.getLogger("chainkg.build").info(m)).dataset


class BodyLimit:
    """WSGI middleware: read the whole request body before the app runs, within the size limit
    (413, chunked or not) and the time limit (408); the app then sees a plain, complete body."""

    def __init__(self, app, max_body: int, timeout: float):
        self.app, self.max_body, self.timeout = app, max_body, timeout

    @staticmethod
    def _reject(start_response, status: str, message: str):
        body = (message + "\n").encode()
        start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
                                ("Connection", "close")])
        return [body]

    def __call__(self, environ, start_response):
        length = environ.get("CONTENT_LENGTH") or ""
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if not length and not chunked:
            return self.app(environ, start_response)
        if length:
            if not length.isdigit():
                return self._reject(start_response, "400 Bad Request", "Content-Length is not a number")
            if int(length) > self.max_body:
                return self._reject(start_response, "413 Request Entity Too Large",
                                    f"the request body is larger than the limit of {self.max_body} bytes")
        try:
            data = self._read(environ["wsgi.input"], int(length) if length else None)
        except _TooLarge:
            return self._reject(start_response, "413 Request Entity Too Large",
                                f"the request body is larger than the limit of {self.max_body} bytes")
        except _TooSlow:
            return self._reject(start_response, "408 Request Timeout",
                                f"the request body did not arrive within {self.timeout:g} s")
        environ["wsgi.input"] = io.BytesIO(data)
        environ["CONTENT_LENGTH"] = str(len(data))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ["wsgi.input_terminated"] = False
        return self.app(environ, start_response)

    def _read(self, stream, length: int | None) -> bytes:
        timer = _deadline(self.timeout)
        chunks, got = [], 0
        try:
            while length is None or got < length:
                chunk = stream.read(min(65536, (length - got) if length is not None else 65536))
                if not chunk:
                    break
                got += len(chunk)
                if got > self.max_body:
                    raise _TooLarge()
                chunks.append(chunk)
        except _TimeoutTypes() as e:
            raise _TooSlow() from e
        finally:
            if timer is not None:
                timer.close()
        return b"".join(chunks)


class _TooLarge(Exception):
    pass


class _TooSlow(Exception):
    pass


def _gevent_active() -> bool:
    if "gevent.monkey" not in sys.modules:
        return False
    return sys.modules["gevent.monkey"].is_module_patched("socket")


def _deadline(seconds: float):
    """A gevent.Timeout armed for `seconds` when running under gevent (else None: the server's own
    socket timeout applies)."""
    if not _gevent_active():
        return None
    import gevent

    timer = gevent.Timeout(seconds)
    timer.start()
    return timer


def _TimeoutTypes() -> tuple:
    types: tuple = (TimeoutError,)
    if _gevent_active():
        import gevent

        types += (gevent.Timeout,)
    return types


def open_store(config: Config, options: ServeOptions, socket_path: str | None = None):
    """`--store`: start the store gateway (the one way to the store, outside every namespace) and
    read the dataset's manifest through it. Returns (RemoteDataset, gateway or None when
    `socket_path` names a running one). Raises StoreConfigError with the reason."""
    import tempfile

    from chainkg.sparql.remote import RemoteDataset, StoreClient, StoreConfigError, StoreGateway, StoreUnavailable

    gateway = None
    if socket_path is None:
        socket_path = str(Path(tempfile.mkdtemp(prefix="chainkg-store-")) / "store.sock")
        gateway = StoreGateway(options.store, socket_path, config.query_timeout_s)
        gateway.start()
    client = StoreClient(socket_path, options.store, config.query_timeout_s)
    try:
        dataset = RemoteDataset.open(client, max_rows=config.max_rows)
    except StoreUnavailable as e:
        if gateway is not None:
            gateway.stop()
        raise StoreConfigError(f"--store: cannot read the dataset from the store: {e.message}") from None
    except BaseException:
        if gateway is not None:
            gateway.stop()
        raise
    from chainkg.sparql.remote import prebuild_search_index

    if gateway is not None:  # the master (granian workers find it built)
        prebuild_search_index(config.cache_dir, dataset)
    logging.getLogger("chainkg.serve").info("serving version %s from the store %s (%d graphs) through the store "
                                            "gateway at %s", dataset.version, options.store,
                                            len(dataset.manifest.graphs), socket_path)
    return dataset, gateway


def make_app(config: Config, dataset, runner=None):
    from chainkg.web.app import create_app

    app = create_app(config, dataset)
    if runner is not None:
        app.config["CHAINKG_RUNNER"] = runner
    app.wsgi_app = BodyLimit(app.wsgi_app, config.max_body_bytes, config.client_timeout_s)
    return app


def start_sandbox(config: Config, dataset, options: ServeOptions):
    """Fork the zygote (and the gateway with --allow-service); returns (zygote, gateway, config):
    the config's service allow-list is mapped to the gateway's addresses."""
    from chainkg.sparql.sandbox import Zygote

    zygote = Zygote(dataset, isolate=options.sandbox, memory_limit=config.max_memory_bytes,
                    gateway=bool(config.service_allowlist))
    how = zygote.start()
    log = logging.getLogger("chainkg.serve")
    log.info("query evaluation isolated from the network by: %s (pid %d)", how, zygote.pid)
    if not options.sandbox:
        log.warning("--no-sandbox: queries are evaluated in processes that CAN reach the network; only the "
                    "query scanner stands between a SERVICE call and your internal hosts")
    gateway = None
    if config.service_allowlist and zygote.gateway_socket is not None:
        from chainkg.sparql.gateway import Gateway

        gateway = Gateway(zygote.gateway_socket, config.service_allowlist, timeout=config.query_timeout_s)
        gateway.start()
        zygote.gateway_socket.close()
        log.info("SERVICE gateway for %d allowed endpoint(s) at %s (pid %d)", len(config.service_allowlist),
                 zygote.gateway_address, gateway.pid)
    return zygote, gateway


def serve(config: Config, options: ServeOptions) -> None:
    configure_logging(options.log_level)
    if config.public_url is None:
        config = replace(config, public_url=f"http://{options.host}:{options.port}")
    if options.server == "granian":
        return _serve_granian(config, options)
    return _serve_gunicorn(config, options)


def _isolate_web_worker(sandbox: bool) -> None:
    if not sandbox:
        return
    from chainkg.sparql.sandbox import isolate_network

    isolate_network()  # a web worker needs only its inherited listening socket


# -- gunicorn -------------------------------------------------------------------------------------
def _serve_gunicorn(config: Config, options: ServeOptions) -> None:
    from gunicorn.app.base import BaseApplication

    from chainkg.sparql.sandbox import Pool

    store_gateway = None
    if options.store:
        dataset, store_gateway = open_store(config, options)
    else:
        dataset = load_dataset(config, options.data, options.base, options.union_default_graph)
    zygote, gateway = start_sandbox(config, dataset, options)
    pool = Pool(zygote.path, max_idle=16, rewrite=zygote.service_rewrites(config.service_allowlist))
    app = make_app(config, dataset, pool)

    class Application(BaseApplication):
        def load_config(self):
            settings = {
                "bind": f"{options.host}:{options.port}",
                "workers": options.workers,
                "worker_class": "gevent",
                "worker_connections": options.connections,
                # the server's own hard limit stays above the query limit: the app answers 503 first
                "timeout": int(config.query_timeout_s) + 30,
                "graceful_timeout": int(config.query_timeout_s) + 5,
                "keepalive": max(1, int(config.client_timeout_s // 2)),  # also the time a request head may take
                "limit_request_line": 8190,
                "limit_request_fields": 100,
                "limit_request_field_size": 8190,
                "loglevel": options.log_level,
                "accesslog": None,  # chainkg.http logs one line per request
                "proc_name": "chainkg",
                "control_socket_disable": True,  # several servers may run side by side (tests, benchmark)
                "post_fork": lambda server, worker: _isolate_web_worker(options.sandbox),
            }
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self):
            return app

    try:
        Application().run()
    finally:
        zygote.stop()
        if gateway is not None:
            gateway.stop()
        if store_gateway is not None:
            store_gateway.stop()


# -- granian --------------------------------------------------------------------------------------
ENV_OPTIONS = "CHAINKG_SERVE_OPTIONS"


def granian_app():
    """Factory for granian workers (each worker process loads the dataset from the build cache and
    sends queries to the zygote that `chainkg serve` started)."""
    from chainkg.sparql.sandbox import Pool

    spec = json.loads(os.environ[ENV_OPTIONS])
    configure_logging(spec["log_level"])
    config = replace(Config(), **{k: (Path(v) if k in ("root", "build_dir", "sources_dir") and v else v)
                                  for k, v in spec["config"].items()})
    config = replace(config, service_allowlist=tuple(config.service_allowlist))
    pool = Pool(spec["zygote"], max_idle=16, rewrite={k: v for k, v in spec["rewrite"]})
    if spec.get("store"):  # the master's store gateway, by its socket
        dataset, _ = open_store(config, ServeOptions(store=spec["store"]), socket_path=spec["store_socket"])
        return make_app(config, dataset, pool)
    return make_app(config, load_dataset(config, tuple(spec["data"]), spec.get("base"), spec.get("union", False)), pool)


def _serve_granian(config: Config, options: ServeOptions) -> None:
    from granian.constants import Interfaces
    from granian.server import Server

    store_gateway = None
    if options.store:
        dataset, store_gateway = open_store(config, options)
    else:
        dataset = load_dataset(config, options.data, options.base, options.union_default_graph)  # the workers load the cache
    zygote, gateway = start_sandbox(config, dataset, options)
    cfg = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()}
    os.environ[ENV_OPTIONS] = json.dumps({"config": cfg, "data": list(options.data), "base": options.base,
                                          "union": options.union_default_graph, "log_level": options.log_level,
                                          "zygote": zygote.path, "store": options.store,
                                          "store_socket": store_gateway.path if store_gateway else None,
                                          "rewrite": list(zygote.service_rewrites(config.service_allowlist).items())})
    try:
        Server("chainkg.web.serve:granian_app", address=options.host, port=options.port, interface=Interfaces.WSGI,
               workers=options.workers, blocking_threads=options.threads, factory=True, respawn_failed_workers=True,
               respawn_interval=0.1, log_level=options.log_level,
               http1_settings=_granian_http1(config)).serve()
    finally:
        zygote.stop()
        if gateway is not None:
            gateway.stop()
        if store_gateway is not None:
            store_gateway.stop()


def _granian_http1(config: Config):
    from granian.http import HTTP1Settings

    return HTTP1Settings(header_read_timeout=int(config.client_timeout_s * 1000))
