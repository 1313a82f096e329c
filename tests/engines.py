"""Real external SPARQL engines for the tests, started on a free loopback port.

`start_oxigraph` runs the `oxigraph` server from PyPI (installed with the test extras) on a store in a
temporary folder, optionally loaded first from RDF files, and returns once its query endpoint answers.
Push, `serve --store` and federation tests share it. `start_virtuoso` runs OpenLink Virtuoso (Debian
`virtuoso-opensource`) on a new database in a temporary folder. Each engine is stopped by `stop()`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from live_server import free_port, stop_process, wait_until_answering

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
        stop_process(self.process)


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


VIRTUOSO = shutil.which("virtuoso-t") or "/usr/bin/virtuoso-t"  # Debian package virtuoso-opensource-7-bin
VIRTUOSO_USER = ("dba", "dba")  # the administrator of a new database: may write through /sparql-graph-crud-auth

VIRTUOSO_INI = """\
[Database]
DatabaseFile = {d}/virtuoso.db
ErrorLogFile = {d}/virtuoso.log
LockFile = {d}/virtuoso.lck
TransactionFile = {d}/virtuoso.trx
xa_persistent_file = {d}/virtuoso.pxa
ErrorLogLevel = 7
FileExtend = 200
MaxCheckpointRemap = 2000
Striping = 0
TempStorage = TempDatabase

[TempDatabase]
DatabaseFile = {d}/virtuoso-temp.db
TransactionFile = {d}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping = 0

[Parameters]
ServerPort = 127.0.0.1:{sql_port}
DisableUnixSocket = 1
MaxClientConnections = 10
CheckpointInterval = 60
CaseMode = 2
DirsAllowed = ., {d}
NumberOfBuffers = 10000
MaxDirtyBuffers = 6000

[HTTPServer]
ServerPort = 127.0.0.1:{http_port}
ServerRoot = {d}/vsp
MaxClientConnections = 10
ServerThreads = 10
Charset = UTF-8

[SPARQL]
ResultSetMaxRows = 1000000
MaxQueryExecutionTime = 10
"""


def start_virtuoso(workdir: Path, wait_s: float = 120) -> Engine:
    """OpenLink Virtuoso (`virtuoso-t +foreground`) on a new database under `workdir`: SQL and HTTP on
    free loopback ports, every file (database, transaction log, error log) in `workdir`. `store` is the
    Graph Store endpoint that takes Digest authentication (VIRTUOSO_USER); `query` is /sparql."""
    if not Path(VIRTUOSO).exists():
        raise FileNotFoundError(f"{VIRTUOSO} not found: install the Debian package virtuoso-opensource "
                                "(scripts/install-system-deps.sh test)")
    d = workdir / "virtuoso"
    (d / "vsp").mkdir(parents=True, exist_ok=True)
    ini = d / "virtuoso.ini"
    sql_port, http_port = free_port(), free_port()
    while http_port == sql_port:
        http_port = free_port()
    ini.write_text(VIRTUOSO_INI.format(d=d, sql_port=sql_port, http_port=http_port))
    log = d / "stdout.log"
    process = subprocess.Popen([VIRTUOSO, "+foreground", "+configfile", str(ini)], cwd=d,
                               stdout=open(log, "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{http_port}"
    try:
        wait_until_answering(f"{url}/sparql?query={urllib.parse.quote('ASK {}')}", process, log, wait_s)
    except RuntimeError as e:
        errors = d / "virtuoso.log"
        raise RuntimeError(f"{e}\n{errors.read_text(errors='replace')[-3000:] if errors.exists() else ''}") from None
    return Engine("virtuoso", url, f"{url}/sparql", f"{url}/sparql-auth", f"{url}/sparql-graph-crud-auth", process, log)
