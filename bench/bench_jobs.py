"""The image job API on SQLite and on PostgreSQL: creates per second, and the latency the job path adds
over a direct provider call, in one run.

Each backend gets a fresh database, `fancy jobs serve` (uvicorn, one process) and `fancy jobs worker`
processes, and the same provider: `tests/fault_provider.py` with no faults, a real HTTP server that
answers at once, so what is measured is the job system, not the model. Printed, never asserted:

- **creates/s**: `--users` threads, each logged in, POST /api/jobs (202: hold + job row + event + idempotency
  key, one transaction) as fast as they can for `--seconds`, no worker running;
- **job path latency**: one job at a time, POST -> poll every 20 ms -> `succeeded` (a worker claims it, calls the
  provider, stores the PNG, captures in one transaction), median and p90 over `--jobs`, against a direct
  `ImageClient.generate` to the same provider: the difference is what the job path adds (the poll interval
  bounds its resolution; an idle worker's poll interval, `--poll-s`, is most of what the path adds).

    .venv/bin/python bench/bench_jobs.py [--users 8] [--seconds 10] [--jobs 40]
"""
from __future__ import annotations
import argparse, os, platform, statistics, subprocess, sys, tempfile, threading, time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from postgres import new_database, postgres_server_running  # noqa: E402
from image_helpers import free_port  # noqa: E402

from fancy_lib.image.client import ImageClient, ProviderConfig, RetryPolicy  # noqa: E402

FANCY = str(Path(sys.executable).parent / "fancy")
PROMPT = "a small red circle on the left on a white background"


def wait(url, timeout=60):
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            if httpx.get(url, timeout=1).status_code < 500: return
        except httpx.HTTPError: pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def login(api, name):
    c = httpx.Client(base_url=api, timeout=30)
    c.post("/api/auth/register", json={"username": name, "password": "benchmark-" + name})
    tok = c.post("/api/auth/login", json={"username": name, "password": "benchmark-" + name}).json()["access_token"]
    c.headers["Authorization"] = f"Bearer {tok}"
    return c


def one_backend(label, url, provider_url, a, tmp):
    providers = tmp / f"providers-{label}.toml"
    providers.write_text(f'[providers.fast]\nbase_url = "{provider_url}/v1"\napi_key = "k"\nmodel = "fancy-image"\ntimeout_s = 10\n'
                         f'reference_images = "supported"\nprices = {{ "32x32" = 1 }}\n')
    env = {**os.environ, "FANCY_STORE_URL": url, "FANCY_APP_PROVIDERS_FILE": str(providers), "FANCY_APP_PROVIDER": "fast",
           "FANCY_APP_IMAGES_DIR": str(tmp / f"jobs-{label}"), "FANCY_APP_SIGNUP_GRANT": "1000000", "FANCY_APP_WORKER_SLOTS": "2",
           "FANCY_APP_POLL_S": str(a.poll_s), "FANCY_RUNS_DIR": str(tmp / "runs")}
    port = free_port()
    api = subprocess.Popen([FANCY, "jobs", "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait(f"{base}/health")
        clients = [login(base, f"bench{i}") for i in range(a.users)]
        counts, stop = [0] * a.users, threading.Event()

        def hammer(i):
            while not stop.is_set():
                r = clients[i].post("/api/jobs", json={"prompt": PROMPT})
                if r.status_code == 202: counts[i] += 1
        ts = [threading.Thread(target=hammer, args=(i,)) for i in range(a.users)]
        t0 = time.perf_counter()
        for t in ts: t.start()
        time.sleep(a.seconds); stop.set()
        for t in ts: t.join()
        rate = sum(counts) / (time.perf_counter() - t0)
        # drain the queued backlog with a worker, then time single jobs end to end
        worker = subprocess.Popen([FANCY, "jobs", "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            c = clients[0]
            while True:
                busy = [j for j in c.get("/api/history", params={"limit": 5}).json() if j["state"] in ("queued", "running")]
                if not busy: break
                time.sleep(0.5)
            lat = []
            for _ in range(a.jobs):
                t1 = time.perf_counter()
                job = c.post("/api/jobs", json={"prompt": PROMPT}).json()
                while job["state"] in ("queued", "running"):
                    time.sleep(0.02); job = c.get(job["poll_url"]).json()
                assert job["state"] == "succeeded", job
                lat.append(time.perf_counter() - t1)
        finally:
            worker.terminate(); worker.wait(30)
        return rate, lat
    finally:
        api.terminate(); api.wait(30)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--jobs", type=int, default=40)
    ap.add_argument("--poll-s", type=float, default=0.2, help="how often an idle worker looks for a job (FANCY_APP_POLL_S)")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fancy-bench-jobs-"))
    pport = free_port()
    prov = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fault_provider.py"), "--port", str(pport)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    provider_url = f"http://127.0.0.1:{pport}"
    try:
        wait(f"{provider_url}/stats")
        client = ImageClient(ProviderConfig(name="fast", model="fancy-image", base_url=f"{provider_url}/v1", api_key="k",
                                            retry=RetryPolicy(max_attempts=1)))
        direct = []
        for i in range(a.jobs):
            t0 = time.perf_counter(); client.generate(PROMPT, size="32x32", idempotency_key=f"direct-{i}"); direct.append(time.perf_counter() - t0)
        print(f"bench_jobs: {platform.machine()}, {os.cpu_count()} cores; {a.users} users for {a.seconds:g} s; {a.jobs} single jobs; "
              f"idle workers poll every {a.poll_s:g} s")
        print(f"direct ImageClient.generate: median {1e3 * statistics.median(direct):.1f} ms")
        print(f"{'backend':12s} {'creates/s':>10s} {'job median ms':>14s} {'job p90 ms':>11s} {'added ms':>9s}")
        with postgres_server_running() as server:
            for label, url in (("sqlite", f"sqlite:///{tmp}/store.db"), ("postgresql", new_database(server))):
                rate, lat = one_backend(label, url, provider_url, a, tmp)
                med, p90 = statistics.median(lat), statistics.quantiles(lat, n=10)[-1]
                print(f"{label:12s} {rate:10.1f} {1e3 * med:14.1f} {1e3 * p90:11.1f} {1e3 * (med - statistics.median(direct)):9.1f}")
    finally:
        prov.terminate(); prov.wait(10)


if __name__ == "__main__":
    main()
