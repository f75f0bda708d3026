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
           "FANCY_STORE_URL": f"sqlite:///{base}/store.db", "OMP_WAIT_POLICY": "PASSIVE"}
    return {"base": base, "env": env, "runs": base / "runs", "reports": base / "reports", "store": f"sqlite:///{base}/store.db"}


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
from postgres import new_database, postgres_server_running


@pytest.fixture(scope="session")
def postgres_server():
    "A PostgreSQL server of its own: initdb into a temporary folder, a free port, stopped and removed after."
    with postgres_server_running() as server:
        yield server


def new_postgres_database(server) -> str:
    "A fresh, empty database on `server`; returns its URL."
    return new_database(server)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    "The same store tests on an embedded SQLite file and on the real PostgreSQL server."
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    return new_postgres_database(request.getfixturevalue("postgres_server"))
