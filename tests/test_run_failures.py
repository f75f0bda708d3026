"""What a user meets when things go wrong: bad parameters are refused before anything runs, a failing
notebook leaves a failed manifest naming the cell, and a re-run on changed data is not a reproduction."""
import json
import shutil

import pandas as pd

from conftest import ROOT, fancy


def _runs(path):
    return sorted(p for p in path.iterdir()) if path.exists() else []


def test_unknown_parameter_is_refused_with_a_suggestion(sandbox, tmp_path):
    env = {**sandbox["env"], "FANCY_RUNS_DIR": str(tmp_path / "runs")}
    r = fancy("run", "reference_baseline", "-p", "sybmol", "ETHUSD_30m", env=env)
    assert r.returncode == 2
    assert "parameter 'sybmol' is not declared" in r.stderr and "did you mean 'symbol'" in r.stderr
    assert _runs(tmp_path / "runs") == []


def test_parameter_of_the_wrong_type_is_refused(sandbox, tmp_path):
    env = {**sandbox["env"], "FANCY_RUNS_DIR": str(tmp_path / "runs")}
    r = fancy("run", "reference_baseline", "-p", "fee", "cheap", env=env)
    assert r.returncode == 2 and "parameter 'fee' is 'cheap'" in r.stderr and "expected float" in r.stderr
    assert _runs(tmp_path / "runs") == []


def test_unknown_notebook_is_refused(sandbox):
    r = fancy("run", "reference_baselin", env=sandbox["env"])
    assert r.returncode == 2 and "did you mean 'reference_baseline'" in r.stderr


def test_failing_notebook_keeps_a_failed_manifest_and_report(sandbox, tmp_path):
    env = {**sandbox["env"], "FANCY_RUNS_DIR": str(tmp_path / "runs"), "FANCY_REPORTS_DIR": str(tmp_path / "reports")}
    r = fancy("run", "reference_baseline", "-p", "split", "2030-01-01", env=env)
    assert r.returncode == 1
    (run_dir,) = _runs(tmp_path / "runs")
    m = json.loads((run_dir / "manifest.json").read_text())
    assert m["status"] == "failed" and m["parameters"] == {"split": "2030-01-01"}
    assert m["error"]["type"] == "ValueError" and "outside the data window" in m["error"]["message"]
    assert m["error"]["cell_index"] is not None and "split_ts" in m["error"]["cell_source"]
    html = (tmp_path / "reports" / f"{m['id']}.html").read_text()
    assert "outside the data window" in html and "failed" in (tmp_path / "reports" / "index.html").read_text()


def test_rerun_on_changed_data_is_not_a_reproduction(sandbox, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data)
    env = {**sandbox["env"], "FANCY_RUNS_DIR": str(tmp_path / "runs"), "FANCY_REPORTS_DIR": str(tmp_path / "reports"),
           "FANCY_DATA_DIR": str(data)}
    r = fancy("run", "reference_baseline", "--no-report", env=env)
    assert r.returncode == 0, r.stderr
    run_id = r.stdout.split()[1].rstrip(":")
    # a late correction to the vendor file: every out-of-sample close 1 % higher
    f = data / "BTCUSD_30m.parquet"
    bars = pd.read_parquet(f)
    bars.loc[bars.index >= pd.Timestamp("2019-06-01", tz="UTC"), ["open", "high", "low", "close"]] *= 1.01
    bars.to_parquet(f, compression="zstd")
    r = fancy("rerun", run_id, "--no-report", env=env)
    assert r.returncode == 1
    assert "NOT REPRODUCED" in r.stdout and "data bars: content hash changed" in r.stdout
    assert "metric out_of_sample." in r.stdout and "!= re-run" in r.stdout
    # the figures drawn from the changed bars are named too, by their title (here: the equity curve)
    assert "crossover, BTCUSD_30m resampled to 4h" in r.stdout and ": content changed" in r.stdout
    assert "table trades_out_of_sample: content changed" in r.stdout
