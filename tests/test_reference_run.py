"""The main job end to end: `fancy run reference_baseline` on the bundled real data, its manifest,
its offline report (also in a real browser), and `fancy rerun` proving the numbers reproduce."""
import hashlib
import json
import re
import subprocess

import pandas as pd
import pytest

from conftest import CHROMIUM_FLAGS, ROOT, chromium, fancy
from fancy_lib.reports import remote_references


def test_manifest_records_everything_needed_to_reproduce(reference_run):
    m = reference_run["manifest"]
    assert m["status"] == "succeeded" and m["error"] is None
    assert m["notebook"] == "nbs/research/reference_baseline.ipynb"
    assert m["parameters"] == {} and m["defaults"]["symbol"] == "BTCUSD_30m" and m["seed"] == 42
    bars = m["data"]["bars"]
    assert bars["content_hash"] == hashlib.sha256((ROOT / "data" / "BTCUSD_30m.parquet").read_bytes()).hexdigest()
    assert bars["start"].startswith("2017-10-01") and bars["end"].startswith("2019-")
    assert len(m["code"]["commit"] or "") == 40 and isinstance(m["code"]["dirty"], bool)
    assert {"numpy", "pandas", "numba", "papermill", "python"} <= set(m["packages"])
    assert m["timings"]["wall_s"] > 0 and m["timings"]["cpu_s"] > 0
    for group in ("in_sample", "out_of_sample"):
        for metric in ("sharpe", "cagr", "max_drawdown", "trade_count"):
            assert f"{group}.{metric}" in m["metrics"], f"{group}.{metric} not recorded"
    assert m["metrics"]["selection.combinations"] == 342
    assert (m["kind"], m["line"], m["attempt"], m["batch_id"]) == ("papermill", "quant", 1, None)
    assert m["timings"]["gpu_s"] == 0.0                       # no GPU did the work: 0, never an estimate
    # every figure of the report and every saved table is hashed, so a re-run can prove each comes back identical
    assert len(m["figures"]) == 3 and all(len(f["sha256"]) == 64 for f in m["figures"].values())
    assert {"trades_in_sample", "trades_out_of_sample"} <= set(m["tables"])
    outputs = {o["path"]: o["bytes"] for o in m["outputs"]}
    for path in ("input.ipynb", "executed.ipynb", "artifacts/trades_out_of_sample.parquet"):
        assert outputs.get(path, 0) > 0 and (reference_run["dir"] / path).stat().st_size == outputs[path]


def test_recorded_trades_are_real_and_consistent(reference_run):
    m = reference_run["manifest"]
    trades = pd.read_parquet(reference_run["dir"] / "artifacts" / "trades_out_of_sample.parquet")
    assert len(trades) == m["metrics"]["out_of_sample.trade_count"] > 0
    assert (trades["entry_time"] >= pd.Timestamp("2019-01-01", tz="UTC")).all()


def test_report_is_offline_and_has_the_figures(reference_run, sandbox):
    report = sandbox["reports"] / f"{reference_run['id']}.html"
    assert str(report) in reference_run["stdout"]
    html = report.read_text()
    assert remote_references(html) == []
    assert html.count("Plotly.newPlot") == 3        # heatmap, equity/drawdown, metrics table
    src = re.search(r'<script src="(assets/plotly-[^"]+\.min\.js)"', html).group(1)
    assert (sandbox["reports"] / src).stat().st_size > 1_000_000
    index = (sandbox["reports"] / "index.html").read_text()
    assert reference_run["id"] in index and "succeeded" in index


def test_report_draws_the_figures_in_a_browser_without_network(reference_run, sandbox):
    report = sandbox["reports"] / f"{reference_run['id']}.html"
    shot = sandbox["base"] / "report.png"
    dom = subprocess.run([chromium(), *CHROMIUM_FLAGS, "--virtual-time-budget=15000", "--dump-dom", report.as_uri()],
                         capture_output=True, text=True, timeout=180).stdout
    # plotly draws each figure into an <svg class="main-svg">; an unloaded plotly.js leaves empty divs
    assert dom.count('class="main-svg"') >= 3, "figures were not drawn"
    assert "BTCUSD_30m" in dom and "out_of_sample" in dom
    subprocess.run([chromium(), *CHROMIUM_FLAGS, "--virtual-time-budget=15000", "--window-size=1280,2400",
                    f"--screenshot={shot}", report.as_uri()], capture_output=True, timeout=180)
    assert shot.stat().st_size > 20_000


def test_rerun_reproduces_every_metric(reference_run, sandbox):
    r = fancy("rerun", reference_run["id"], env=sandbox["env"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "REPRODUCED" in r.stdout and "NOT REPRODUCED" not in r.stdout
    runs = [json.loads(p.read_text()) for p in sandbox["runs"].glob("*/manifest.json")]
    (again,) = [m for m in runs if m.get("rerun_of") == reference_run["id"]]
    assert again["status"] == "succeeded"
    # a re-run keeps the notebook's name (it executes the stored input.ipynb)
    assert "-reference_baseline-" in again["id"] and "input" not in again["id"]
    assert again["notebook"] == "nbs/research/reference_baseline.ipynb"
    assert again["figures"] == reference_run["manifest"]["figures"] and again["tables"] == reference_run["manifest"]["tables"]
    index = (sandbox["reports"] / "index.html").read_text()
    assert ">input<" not in index and "Where the compute went" in index


def test_the_run_is_in_the_store(reference_run, sandbox):
    from fancy_lib.records import RunRecord
    from fancy_lib.store import Store
    store = Store(sandbox["store"])
    assert store.get_run(reference_run["id"]) == RunRecord.load(reference_run["dir"])
    oos = store.metrics("out_of_sample.sharpe", run=reference_run["id"])["value"].tolist()
    assert oos == [reference_run["manifest"]["metrics"]["out_of_sample.sharpe"]]
    listed = fancy("runs", env=sandbox["env"])
    assert listed.returncode == 0 and reference_run["id"] in listed.stdout
