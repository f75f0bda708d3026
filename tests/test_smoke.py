"""`run_smoke` (what `fancy smoke URL` runs) against a real `fancy jobs serve` over HTTP: it passes on the bundled model
(and `/metrics` then counts the smoke jobs), and it fails naming the provider when the provider is down, with the job
failed and refunded. The page check is asserted for either deployment: with the UI at `/` its assets must answer 200;
without it, the check fails saying there is no HTML page, and `page=False` skips it."""
import os
import subprocess
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from image_helpers import free_port, shipped_model_dir
from test_image_jobs import _start, _wait_http

from fancy_lib.image.smoke import FAILED, PASSED, SKIPPED, run_smoke

CHECKS = ["reachable", "page assets", "health", "log in", "estimate", "job", "download", "balance"]


def _stop(proc):
    proc.terminate()
    try: proc.wait(20)
    except subprocess.TimeoutExpired: proc.kill()


def _statuses(rep):
    return {c.name: c.status for c in rep.checks}


def _metric(text, name, **labels):
    hits = [s.value for f in text_string_to_metric_families(text) for s in f.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(hits) == 1, (name, labels, hits)
    return hits[0]


def test_smoke_passes_against_the_bundled_model(tmp_path):
    shipped_model_dir()
    port = free_port()
    env = {**os.environ, "FANCY_STORE_URL": f"sqlite:///{tmp_path}/store.db", "FANCY_APP_IMAGES_DIR": str(tmp_path / "jobs"),
           "FANCY_RUNS_DIR": str(tmp_path / "runs"), "OMP_WAIT_POLICY": "PASSIVE"}
    srv = _start(["jobs", "serve", "--with-worker", "--port", port, "--model", "bundled"], env, tmp_path / "serve.log")
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{url}/health", srv, timeout=180)
        lines = []
        rep = run_smoke(url, username="smoke-bot", password="smoke-password", page=False, timeout_s=120, echo=lines.append)
        print("\n" + "\n".join(lines))
        assert rep.ok and rep.exit_code == 0, str(rep)
        assert _statuses(rep) == {**{n: PASSED for n in CHECKS}, "page assets": SKIPPED}, str(rep)
        assert rep.check("log in").detail.startswith("registered and logged in as 'smoke-bot'"), str(rep)
        assert "real channel" in rep.check("estimate").detail and "PNG" in rep.check("download").detail, str(rep)
        assert len(lines) == len(CHECKS) + 2 and lines[-1].endswith(": OK"), lines

        # a second run finds the account and logs in; the page check holds whichever way this server answers at '/'
        again = run_smoke(url, username="smoke-bot", password="smoke-password", timeout_s=120, echo=None)
        print(str(again))
        page = again.check("page assets")
        landing = httpx.get(url + "/", follow_redirects=True)
        if landing.status_code == 200 and landing.headers.get("content-type", "").startswith("text/html"):
            assert again.ok, str(again)
        else:
            assert page.status == FAILED and page.detail.startswith("no HTML page at / (HTTP 404, application/json)"), str(again)
            assert again.failed == [page] and again.exit_code == 1, str(again)
        assert again.check("log in").detail.startswith("logged in as 'smoke-bot'"), str(again)

        # /metrics, read from the store, counts both smoke jobs and what they captured
        m = httpx.get(url + "/metrics")
        assert m.status_code == 200 and "version=0.0.4" in m.headers["content-type"], m.text[:500]
        real = {"provider": "self", "channel": "real"}
        assert _metric(m.text, "fancy_image_jobs", state="succeeded", **real) == 2, m.text
        assert _metric(m.text, "fancy_image_job_latency_seconds_count", state="succeeded", **real) == 2, m.text
        assert _metric(m.text, "fancy_image_credits_held") == 0, m.text
        tok = httpx.post(url + "/api/auth/login", json={"username": "smoke-bot", "password": "smoke-password"}).json()["access_token"]
        left = httpx.get(url + "/api/balance", headers={"Authorization": f"Bearer {tok}"}).json()["balance"]
        assert _metric(m.text, "fancy_image_credits_captured_total") == 20 - left > 0, (left, m.text)
    finally:
        _stop(srv)


def test_smoke_fails_naming_the_provider_when_it_is_down(tmp_path):
    dead, port = free_port(), free_port()            # nothing listens on `dead`
    providers = tmp_path / "providers.toml"
    providers.write_text(f'[providers.down]\nbase_url = "http://127.0.0.1:{dead}/v1"\napi_key = "k"\nmodel = "fancy-image"\n'
                         f'timeout_s = 2.0\nreference_images = "supported"\nprices = {{ "32x32" = 2 }}\n'
                         f'retry = {{ max_attempts = 2, backoff_s = 0.05, max_backoff_s = 0.1 }}\n')
    env = {**os.environ, "FANCY_STORE_URL": f"sqlite:///{tmp_path}/store.db", "FANCY_APP_PROVIDERS_FILE": str(providers),
           "FANCY_APP_PROVIDER": "down", "FANCY_APP_IMAGES_DIR": str(tmp_path / "jobs"), "FANCY_RUNS_DIR": str(tmp_path / "runs")}
    srv = _start(["jobs", "serve", "--with-worker", "--port", port], env, tmp_path / "serve.log")
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{url}/health", srv, timeout=60)
        t0 = time.time()
        rep = run_smoke(url, username="smoke-bot", password="smoke-password", page=False, timeout_s=60, echo=None)
        print("\n" + str(rep))
        assert rep.exit_code == 1, str(rep)
        assert _statuses(rep) == {"reachable": PASSED, "page assets": SKIPPED, "health": PASSED, "log in": PASSED, "estimate": PASSED,
                                  "job": FAILED, "download": SKIPPED, "balance": PASSED}, str(rep)
        why = rep.check("job").detail
        assert f"failed on provider 'down': provider_error: provider 'down' at http://127.0.0.1:{dead}/v1 could not be reached" in why, why
        assert why.endswith("; 2 credit(s) refunded"), why
        assert rep.check("balance").detail == "balance unchanged at 20: the failed job's hold was refunded", str(rep)
        assert rep.check("download").detail == "needs job, which failed"
        assert rep.summary().endswith("FAILED at job (exit 1)") and time.time() - t0 < 60, rep.summary()
        m = httpx.get(url + "/metrics").text
        assert _metric(m, "fancy_image_provider_errors_total", provider="down", channel="real", kind="provider_error") == 1, m
        assert _metric(m, "fancy_image_credits_refunded_total") == 2 and _metric(m, "fancy_image_credits_captured_total") == 0, m
    finally:
        _stop(srv)


def test_smoke_of_nothing_fails_at_reachable():
    url = f"http://127.0.0.1:{free_port()}"
    rep = run_smoke(url, username="smoke-bot", password="smoke-password", request_timeout_s=5, echo=None)
    assert rep.exit_code == 1 and rep.check("reachable").detail.startswith(f"GET {url}/: ConnectError"), str(rep)
    assert [c.status for c in rep.checks] == [FAILED] + [SKIPPED] * (len(CHECKS) - 1), str(rep)
