"""Issue 13 item 8: a real install. The built wheel, installed (not editable) into a fresh venv,
builds and serves the graph from any folder: the ontology, shapes, triples, saved queries and
imports ship inside the package as data.

The fresh venv gets only the wheel (`--no-deps`); its dependencies are the test venv's, on
PYTHONPATH (which, unlike a site folder, runs no .pth file: the editable checkout stays invisible)."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_builds_and_serves_from_an_empty_folder(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels),
                    str(ROOT)], check=True, timeout=300)
    wheel = next(wheels.glob("chainkg-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("chainkg/data/ontology/chainkg.ttl", "chainkg/data/shapes/core.ttl", "chainkg/data/triples/sources.ttl",
                   "chainkg/data/imports/imports.toml", "chainkg/web/templates/base.html"):
        assert needed in names, needed

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", site, str(wheel)], check=True,
                   timeout=300)
    here = tmp_path / "elsewhere"
    here.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("CHAINKG_ROOT", "PYTHONPATH")}
    env.update(PYTHONPATH=sysconfig.get_paths()["purelib"], XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONUNBUFFERED="1")
    python = str(venv / "bin" / "python")
    where = subprocess.run([python, "-c", "import chainkg.config as c; print(c.__file__); print(c.Config().root)"],
                           capture_output=True, text=True, env=env, cwd=here, check=True).stdout.split()
    assert where[0].startswith(site) and where[1].startswith(site), where  # the installed copy, its own data

    build = subprocess.run([python, "-m", "chainkg.cli", "build"], capture_output=True, text=True, env=env, cwd=here,
                           timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    assert "claims" in build.stdout and (tmp_path / "cache" / "chainkg" / "CURRENT").exists()

    sys.path.insert(0, str(ROOT / "tests"))
    from live_server import free_port

    port = free_port()
    log = open(tmp_path / "serve.log", "w")
    server = subprocess.Popen([python, "-m", "chainkg.cli", "serve", "--port", str(port), "--workers", "1"],
                              stdout=log, stderr=subprocess.STDOUT, env=env, cwd=here)
    try:
        url = f"http://127.0.0.1:{port}"
        import time

        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if requests.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.3)
        r = requests.get(url + "/sparql", params={"query": "SELECT (COUNT(*) AS ?n) { ?s a ck:Enterprise }"},
                         headers={"Accept": "text/csv"}, timeout=10)
        assert r.status_code == 200 and int(r.text.split()[1]) > 10
        page = requests.get(url + "/id/qingdao", headers={"Accept": "text/html"}, timeout=10)
        assert page.status_code == 200 and "Qingdao" in page.text  # templates shipped too
        assert requests.get(url + "/api/queries", timeout=10).json()  # saved queries shipped
    finally:
        server.terminate()
        server.wait(timeout=30)
