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
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_server(args: list[str], log: Path, root_args: list[str] = (), wait_s: float = 180) -> LiveServer:
    """`chainkg [root_args] serve --port P [args]`; returns once /healthz answers 200."""
    port = free_port()
    out = open(log, "w")
    process = subprocess.Popen([CHAINKG, *root_args, "serve", "--host", "127.0.0.1", "--port", str(port), *args],
                               stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + wait_s
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chainkg serve exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
                if r.status == 200:
                    return LiveServer(url, process, log)
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"chainkg serve did not answer /healthz within {wait_s} s:\n{log.read_text()[-3000:]}")
