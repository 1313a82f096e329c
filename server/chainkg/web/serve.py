"""The production server: the Flask app under gunicorn (default, by measurement) or granian.

Never Flask's development server. The dataset is built (or loaded from the cache) once, in the
gunicorn master, before the workers fork, so every worker shares it and a recycled worker is up in
milliseconds. A query that overruns its time limit is answered 503 by its request thread; the
worker then retires gracefully (SIGTERM to itself: it stops accepting, finishes its other
requests and exits) and the master forks a fresh one, so the runaway evaluation thread dies with
the old process while the other workers keep serving.

Measured on this project's graph (scripts/benchmark_sparql.py, wrk -c16, 2 CPUs): see README.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
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
    threads: int = 8
    server: str = "gunicorn"
    data: tuple[str, ...] = field(default_factory=tuple)  # FILE or FILE=GRAPH-IRI; empty: build the project
    log_level: str = "info"


def configure_logging(level: str = "info") -> None:
    """One line per request (chainkg.http) and the server's own messages, on stderr."""
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT, stream=sys.stderr, force=True)


def load_dataset(config: Config, data: tuple[str, ...] = ()):
    from chainkg.build.dataset import FrozenDataset
    from chainkg.build.pipeline import build

    if data:
        return FrozenDataset.from_files(list(data))
    return build(config, progress=lambda m: logging.getLogger("chainkg.build").info(m)).dataset


def make_app(config: Config, data: tuple[str, ...] = ()):
    from chainkg.web.app import create_app

    app = create_app(config, load_dataset(config, data))
    app.config["CHAINKG_RECYCLE"] = _retire_worker
    return app


def _retire_worker() -> None:
    """Called after a timed-out response is sent: ask this worker process to exit gracefully."""
    logging.getLogger("chainkg.serve").warning("a query overran its time limit; recycling worker %d", os.getpid())
    os.kill(os.getpid(), signal.SIGTERM)


def serve(config: Config, options: ServeOptions) -> None:
    configure_logging(options.log_level)
    if options.server == "granian":
        return _serve_granian(config, options)
    return _serve_gunicorn(config, options)


# -- gunicorn -------------------------------------------------------------------------------------
def _serve_gunicorn(config: Config, options: ServeOptions) -> None:
    from gunicorn.app.base import BaseApplication

    app = make_app(config, options.data)

    class Application(BaseApplication):
        def load_config(self):
            settings = {
                "bind": f"{options.host}:{options.port}",
                "workers": options.workers,
                "worker_class": "gthread",
                "threads": options.threads,
                # the server's own hard limit stays above the query limit: the app answers 503 first
                "timeout": int(config.query_timeout_s) + 30,
                "graceful_timeout": int(config.query_timeout_s) + 5,
                "keepalive": 5,
                "limit_request_line": 8190,
                "loglevel": options.log_level,
                "accesslog": None,  # chainkg.http logs one line per request
                "proc_name": "chainkg",
                "control_socket_disable": True,  # several servers may run side by side (tests, benchmark)
            }
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self):
            return app

    Application().run()


# -- granian --------------------------------------------------------------------------------------
ENV_OPTIONS = "CHAINKG_SERVE_OPTIONS"


def granian_app():
    """Factory for granian workers (each worker process loads the dataset from the build cache)."""
    spec = json.loads(os.environ[ENV_OPTIONS])
    configure_logging(spec["log_level"])
    config = replace(Config(), **{k: (Path(v) if k in ("root", "build_dir", "sources_dir") and v else v)
                                  for k, v in spec["config"].items()})
    config = replace(config, service_allowlist=tuple(config.service_allowlist))
    app = make_app(config, tuple(spec["data"]))

    def retire():  # granian has no graceful self-exit: leave shortly after the 503 is flushed, and let
        # granian respawn the worker (requests in flight on this worker at that moment are cut off)
        logging.getLogger("chainkg.serve").warning("a query overran its time limit; recycling worker %d", os.getpid())
        timer = threading.Timer(1.0, os._exit, (3,))
        timer.daemon = True
        timer.start()

    app.config["CHAINKG_RECYCLE"] = retire
    return app


def _serve_granian(config: Config, options: ServeOptions) -> None:
    from granian.constants import Interfaces
    from granian.server import Server

    load_dataset(config, options.data)  # build once, here; the workers load the cache
    cfg = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()}
    os.environ[ENV_OPTIONS] = json.dumps({"config": cfg, "data": list(options.data), "log_level": options.log_level})
    Server("chainkg.web.serve:granian_app", address=options.host, port=options.port, interface=Interfaces.WSGI,
           workers=options.workers, blocking_threads=options.threads, factory=True, respawn_failed_workers=True,
           respawn_interval=0.1, log_level=options.log_level).serve()
