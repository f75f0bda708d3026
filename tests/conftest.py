"""Shared fixtures of the system tests: the `fancy` command in a sandbox of temporary run/report folders."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def fancy(*args, env=None, timeout=900):
    "Run the installed `fancy` command; return the CompletedProcess (text)."
    return subprocess.run([str(BIN / "fancy"), *map(str, args)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    "Environment whose runs and reports go to temporary folders (the checkout's folders stay untouched)."
    base = tmp_path_factory.mktemp("fancy")
    env = {**os.environ, "FANCY_RUNS_DIR": str(base / "runs"), "FANCY_REPORTS_DIR": str(base / "reports"),
           "OMP_WAIT_POLICY": "PASSIVE"}
    return {"base": base, "env": env, "runs": base / "runs", "reports": base / "reports"}


@pytest.fixture(scope="session")
def reference_run(sandbox):
    "One run of the reference research notebook on the bundled data, shared by the tests that read it."
    r = fancy("run", "reference_baseline", env=sandbox["env"])
    assert r.returncode == 0, r.stdout + r.stderr
    run_id = r.stdout.split()[1].rstrip(":")
    run_dir = sandbox["runs"] / run_id
    return {"id": run_id, "dir": run_dir, "stdout": r.stdout,
            "manifest": json.loads((run_dir / "manifest.json").read_text())}


def chromium():
    "Path of Debian's chromium (installed by scripts/system-deps.sh)."
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, "chromium is not installed: scripts/system-deps.sh installs Debian's chromium package"
    return exe


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


# -- a real PostgreSQL server for the store tests ----------------------------------------------------
import glob
import socket
import tempfile
import time
import uuid


def _pg_bin(name):
    "A binary of Debian's postgresql package (installed by scripts/system-deps.sh)."
    hits = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    assert hits, f"PostgreSQL's {name} is not installed: scripts/system-deps.sh installs Debian's postgresql package"
    return hits[-1]


def _as_postgres(cmd, **kw):
    "PostgreSQL refuses to run as root: run its binaries as the `postgres` user the package creates."
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server():
    "A PostgreSQL server of its own: initdb into a temporary folder, a free port, stopped and removed after."
    base = Path(tempfile.mkdtemp(prefix="fancy-pg-"))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    data, log = base / "data", base / "server.log"
    r = _as_postgres([_pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
    assert r.returncode == 0, r.stdout + r.stderr
    port = _free_port()
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"
    r = _as_postgres([_pg_bin("pg_ctl"), "-D", str(data), "-o", opts, "-l", str(log), "-w", "-t", "60", "start"])
    assert r.returncode == 0, r.stdout + r.stderr + (log.read_text() if log.exists() else "")
    try:
        yield {"host": "127.0.0.1", "port": port, "url": f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"}
    finally:
        _as_postgres([_pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"])
        shutil.rmtree(base, ignore_errors=True)


def new_postgres_database(server) -> str:
    "A fresh, empty database on `server`; returns its URL."
    import psycopg
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(host=server["host"], port=server["port"], user="postgres", dbname="postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@{server['host']}:{server['port']}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    "The same store tests on an embedded SQLite file and on the real PostgreSQL server."
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    return new_postgres_database(request.getfixturevalue("postgres_server"))
