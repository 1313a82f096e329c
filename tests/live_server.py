"""Start the real production server (`chainkg serve`) as a subprocess on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

CHAINKG = str(Path(sys.executable).parent / "chainkg")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    url: str  # http://127.0.0.1:PORT
    process: subprocess.Popen
    log: Path

    @property
    def sparql(self) -> str:
        return self.url + "/sparql"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self.process)


def stop_process(process: subprocess.Popen) -> None:
    """Terminate a server process, killing it if it has not ended after 20 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_answering(url: str, process: subprocess.Popen, log: Path, wait_s: float) -> None:
    """Return once GET url answers 200; raise with the log's tail if the process exits or time runs out."""
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


def start_server(args: list[str], log: Path, root_args: list[str] = (), wait_s: float = 180) -> LiveServer:
    """`chainkg [root_args] serve --port P [args]`; returns once /healthz answers 200."""
    port = free_port()
    out = open(log, "w")
    process = subprocess.Popen([CHAINKG, *root_args, "serve", "--host", "127.0.0.1", "--port", str(port), *args],
                               stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    wait_until_answering(url + "/healthz", process, log, wait_s)
    return LiveServer(url, process, log)
