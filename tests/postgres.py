"""A throw-away PostgreSQL server from Debian's `postgresql` package, for the store tests and the store
benchmark: initdb into a temporary folder, a free loopback port, stopped and removed afterwards.
PostgreSQL refuses to run as root, and CI runs as root: its binaries then run as the `postgres` user
the package creates."""
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path


def pg_bin(name: str) -> str:
    "A binary of the newest installed PostgreSQL (scripts/system-deps.sh installs Debian's postgresql)."
    hits = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    if not hits:
        raise RuntimeError(f"PostgreSQL's {name} is not installed: scripts/system-deps.sh installs Debian's postgresql package")
    return hits[-1]


def _as_postgres(cmd):
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_server_running():
    "Yield {'host', 'port', 'url'} of a fresh server; stop it and remove its folder on exit."
    base = Path(tempfile.mkdtemp(prefix="fancy-pg-"))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    data, log = base / "data", base / "server.log"
    r = _as_postgres([pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
    if r.returncode != 0:
        raise RuntimeError(f"initdb failed: {r.stdout}{r.stderr}")
    port = _free_port()
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"
    r = _as_postgres([pg_bin("pg_ctl"), "-D", str(data), "-o", opts, "-l", str(log), "-w", "-t", "60", "start"])
    if r.returncode != 0:
        raise RuntimeError(f"pg_ctl start failed: {r.stdout}{r.stderr}{log.read_text() if log.exists() else ''}")
    try:
        yield {"host": "127.0.0.1", "port": port, "url": f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"}
    finally:
        _as_postgres([pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"])
        shutil.rmtree(base, ignore_errors=True)


def new_database(server) -> str:
    "A fresh, empty database on `server`; returns its SQLAlchemy URL."
    import psycopg
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(host=server["host"], port=server["port"], user="postgres", dbname="postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@{server['host']}:{server['port']}/{name}"
