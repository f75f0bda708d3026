"""The demo site: time from submit to image on the page against the same job through the API, and the
status calls' latency while 50 simulated users poll, in one run.

`fancy demo` runs as a subprocess with the bundled model (model server, worker, back end, Gradio UI in
one process, SQLite). Printed, never asserted:

- **page**: headless Chromium (Debian's, through Playwright) logged in on the site; time from the click
  on Generate to the job's image shown in its card, median of `--jobs`;
- **API**: the same prompt through `POST /api/jobs`, polled every 50 ms, to the image downloaded;
- **50 users polling**: `--users` threads, each logged in with a finished job, polling `GET /api/jobs/{id}` and
  `GET /api/balance` once a second as the page does, for `--seconds`, while the page submits jobs one after
  another: p50/p95 of the status calls, and the page's own submit-to-image time under that load.

    .venv/bin/python bench/bench_demo.py [--jobs 5] [--users 50] [--seconds 20]
"""
from __future__ import annotations
import argparse, os, platform, statistics, subprocess, sys, tempfile, threading, time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from conftest import CHROMIUM_FLAGS, chromium  # noqa: E402
from image_helpers import free_port  # noqa: E402

FANCY = str(Path(sys.executable).parent / "fancy")
PROMPT = "large purple cross at the bottom on a black background"


def login(url, name, password="bench-password"):
    c = httpx.Client(base_url=url, timeout=30)
    c.post("/api/auth/register", json={"username": name, "password": password})
    c.headers["Authorization"] = "Bearer " + c.post("/api/auth/login", json={"username": name, "password": password}).json()["access_token"]
    return c


def api_job(c) -> float:
    t0 = time.perf_counter()
    job = c.post("/api/jobs", json={"prompt": PROMPT}).json()
    while job["state"] in ("queued", "running"):
        time.sleep(0.05); job = c.get(job["poll_url"]).json()
    assert job["state"] == "succeeded", job
    c.get(job["images"][0]["url"]).raise_for_status()
    return time.perf_counter() - t0


def page_job(page) -> float:
    from playwright.sync_api import expect
    done = page.locator("#jobs .job-succeeded img").count()
    page.locator("#prompt-generate").click()
    t0 = time.perf_counter()
    expect(page.locator("#jobs .job-succeeded img")).to_have_count(done + 1, timeout=120_000)
    return time.perf_counter() - t0


def q(xs, p): return sorted(xs)[min(len(xs) - 1, int(p * len(xs)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=5)
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20)
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright
    data, port = Path(tempfile.mkdtemp(prefix="fancy-bench-demo-")), free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "FANCY_DEMO_ADMIN_PASSWORD": "bench-admin-password", "OMP_WAIT_POLICY": "PASSIVE", "GRADIO_ANALYTICS_ENABLED": "False",
           "FANCY_APP_SIGNUP_GRANT": "100000", "FANCY_RUNS_DIR": str(data / "runs")}
    log = data / "demo.log"
    demo = subprocess.Popen([FANCY, "demo", "--port", str(port), "--data-dir", str(data)], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        t0 = time.time()
        while "ready:" not in log.read_text():
            if demo.poll() is not None or time.time() - t0 > 300: raise RuntimeError(log.read_text()[-2000:])
            time.sleep(0.3)
        c = login(url, "bench-api")
        api_job(c)                                                   # warm
        api_t = [api_job(c) for _ in range(a.jobs)]
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=chromium(), args=[f for f in CHROMIUM_FLAGS if f != "--headless"])
            page = b.new_context(viewport={"width": 1280, "height": 900}).new_page()
            login(url, "bench-page")
            page.goto(url + "/")
            page.locator("#login-username").get_by_role("textbox").fill("bench-page")
            page.locator("#login-password").get_by_role("textbox").fill("bench-password")
            page.locator("#login-button").click()
            page.locator("#account-bar").get_by_text("Logged in as bench-page").wait_for()
            page.get_by_role("tab", name="Prompt").click()
            page.locator("#prompt-text").get_by_role("textbox").fill(PROMPT)
            page_job(page)                                           # warm
            page_t = [page_job(page) for _ in range(a.jobs)]

            pollers = [login(url, f"bench-user-{i:02d}") for i in range(a.users)]
            jobs = [p.post("/api/jobs", json={"prompt": PROMPT}).json()["id"] for p in pollers]
            for p, jid in zip(pollers, jobs):                         # their jobs are done first: the load is the polling, not a queue
                while p.get(f"/api/jobs/{jid}").json()["state"] in ("queued", "running"): time.sleep(0.2)
            lat, stop = [], threading.Event()

            def poll(i):
                p, jid = pollers[i], jobs[i]
                while not stop.is_set():
                    for path in (f"/api/jobs/{jid}", "/api/balance"):
                        t = time.perf_counter(); p.get(path).raise_for_status(); lat.append(time.perf_counter() - t)
                    stop.wait(1.0)
            ts = [threading.Thread(target=poll, args=(i,)) for i in range(a.users)]
            for t in ts: t.start()
            t_end, loaded = time.time() + a.seconds, []
            while time.time() < t_end: loaded.append(page_job(page))
            stop.set()
            for t in ts: t.join()
            b.close()
        print(f"bench_demo: {platform.machine()}, {os.cpu_count()} cores; bundled model, SQLite, one `fancy demo` process")
        print(f"submit -> image, API (poll 50 ms):         median {statistics.median(api_t):.2f} s over {len(api_t)} jobs")
        print(f"submit -> image on the page (timer 1 s):   median {statistics.median(page_t):.2f} s over {len(page_t)} jobs "
              f"({statistics.median(page_t) / statistics.median(api_t):.1f}x the API)")
        print(f"{a.users} users polling status + balance at 1 Hz for {a.seconds:g} s: {len(lat)} calls, "
              f"p50 {1e3 * q(lat, 0.5):.0f} ms, p95 {1e3 * q(lat, 0.95):.0f} ms; page submit -> image meanwhile: "
              f"median {statistics.median(loaded):.2f} s over {len(loaded)} jobs")
    finally:
        demo.terminate()
        try: demo.wait(20)
        except subprocess.TimeoutExpired: demo.kill()


if __name__ == "__main__":
    main()
