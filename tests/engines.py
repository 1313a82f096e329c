"""Real external SPARQL engines for the tests, started on a free loopback port.

`start_oxigraph` runs the `oxigraph` server from PyPI (installed with the test extras) on a store in a
temporary folder, optionally loaded first from RDF files, and returns once its query endpoint answers.
Push, `serve --store` and federation tests share it; each engine is stopped by `stop()`.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from live_server import free_port

OXIGRAPH = str(Path(sys.executable).parent / "oxigraph")


@dataclass
class Engine:
    name: str
    url: str  # http://127.0.0.1:PORT (the server's root)
    query: str  # SPARQL 1.1 query endpoint
    update: str | None  # SPARQL 1.1 update endpoint, None when read-only
    store: str | None  # Graph Store Protocol endpoint, None when read-only
    process: subprocess.Popen
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def wait_until_answering(url: str, process: subprocess.Popen, log: Path, wait_s: float) -> None:
    deadline = time.time() + wait_s
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{url} did not answer within {wait_s} s:\n{log.read_text()[-3000:]}")


def start_oxigraph(workdir: Path, files: list[Path] = (), read_only: bool = False, union_default_graph: bool = False,
                   wait_s: float = 60) -> Engine:
    """`oxigraph serve` (or `serve-read-only`) on a store under `workdir`, after `oxigraph load` of `files`."""
    location = workdir / "oxigraph-store"
    location.mkdir(parents=True, exist_ok=True)
    log = workdir / "oxigraph.log"
    for f in files:
        subprocess.run([OXIGRAPH, "load", "--location", str(location), "--file", str(f)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    port = free_port()
    args = [OXIGRAPH, "serve-read-only" if read_only else "serve", "--location", str(location),
            "--bind", f"127.0.0.1:{port}"]
    if union_default_graph:
        args.append("--union-default-graph")
    process = subprocess.Popen(args, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_until_answering(f"{url}/query?query={urllib.parse.quote('ASK {}')}", process, log, wait_s)
    return Engine("oxigraph", url, f"{url}/query", None if read_only else f"{url}/update",
                  None if read_only else f"{url}/store", process, log)
