"""`fancy demo --store-url postgresql+psycopg://...`: the demo keeps its accounts, ledger and jobs in a real
PostgreSQL server (the one the store tests start), not in its data folder's SQLite file."""
import os
import subprocess
import time

import httpx
import sqlalchemy as sa

from conftest import BIN, ROOT
from image_helpers import free_port
from postgres import new_database

from fancy_lib.image.jobs import jobs_table
from fancy_lib.store import Store


def test_the_demo_runs_on_postgresql(postgres_server, tmp_path):
    url, port = new_database(postgres_server), free_port()
    log = tmp_path / "demo.log"
    env = {**os.environ, "FANCY_DEMO_ADMIN_PASSWORD": "demo-admin-password", "GRADIO_ANALYTICS_ENABLED": "False",
           "FANCY_RUNS_DIR": str(tmp_path / "runs")}
    demo = subprocess.Popen([str(BIN / "fancy"), "demo", "--port", str(port), "--data-dir", str(tmp_path / "data"), "--store-url", url,
                             "--provider", "mock"], cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        t0 = time.time()
        while "ready:" not in log.read_text():
            assert demo.poll() is None and time.time() - t0 < 120, log.read_text()[-3000:]
            time.sleep(0.3)
        printed = log.read_text()
        assert "store postgresql+psycopg://postgres@127.0.0.1" in printed and not (tmp_path / "data" / "store.db").exists(), printed
        c = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        assert c.get("/api/info").json()["channel"] == "mock"
        assert c.post("/api/auth/register", json={"username": "pat", "password": "pats-password"}).status_code == 201
        c.headers["Authorization"] = "Bearer " + c.post("/api/auth/login", json={"username": "pat", "password": "pats-password"}).json()["access_token"]
        job = c.post("/api/jobs", json={"prompt": "green square"}).json()
        while job["state"] in ("queued", "running"):
            time.sleep(0.2); job = c.get(job["poll_url"]).json()
        assert job["state"] == "succeeded" and job["channel"] == "mock" and job["credits"]["held"] == 0, job
        assert c.get("/", follow_redirects=True).status_code == 200             # the site, after the redirect to /ui/
    finally:
        demo.terminate()
        try: demo.wait(20)
        except subprocess.TimeoutExpired: demo.kill()
    with Store(url).engine.connect() as conn:
        assert conn.execute(sa.select(jobs_table.c.state).where(jobs_table.c.id == job["id"])).scalar() == "succeeded"
