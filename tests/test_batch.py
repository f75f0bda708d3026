"""`fancy batch` for real: a grid of the reference notebook on a local Dask cluster, skipped when run
again, listed by `fancy runs` and `fancy costs`, rebuilt by `fancy store import`; a worker killed in the
middle of a run loses nothing and records nothing twice; bad input is refused before anything exists."""
import json
import os
import signal
import subprocess
import time

import nbformat
import pandas as pd
import pytest

from conftest import BIN, ROOT, fancy, new_postgres_database
from fancy_lib.store import Store


def _env(sandbox, tmp_path, **extra):
    return {**sandbox["env"], "FANCY_RUNS_DIR": str(tmp_path / "runs"), "FANCY_REPORTS_DIR": str(tmp_path / "reports"),
            "FANCY_STORE_URL": f"sqlite:///{tmp_path}/store.db", **extra}


def _toy(path, body="", params="k = 0"):
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell(f"run_dir = None\nseed = 0\n{params}")
    p.metadata["tags"] = ["parameters"]
    nb.cells = [p, nbformat.v4.new_code_cell(body + "\nfrom fancy_lib.runs import RunContext\n"
                                             "RunContext(run_dir).record_metrics('toy', {'k2': k * k})")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_a_grid_of_the_reference_notebook_runs_once_and_is_accounted(sandbox, tmp_path):
    env = _env(sandbox, tmp_path)
    args = ["batch", "reference_baseline", "-g", "fee=0.001,0.002", "-g", "bar=4h,1d", "--workers", "2"]
    r = fancy(*args, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "4 succeeded, 0 failed, 0 skipped" in r.stdout
    store = Store(env["FANCY_STORE_URL"])
    (batch,) = store.runs(kind="batch")["id"]
    runs = store.runs(kind="papermill")
    assert len(runs) == 4 and set(runs["batch_id"]) == {batch} and set(runs["status"]) == {"succeeded"}
    got = sorted((p["fee"], p["bar"]) for p in runs["parameters"])
    assert got == [(0.001, "1d"), (0.001, "4h"), (0.002, "1d"), (0.002, "4h")]
    # each run is a whole run: its report exists and the index lists it under the notebook's own name
    index = (tmp_path / "reports" / "index.html").read_text()
    for run_id in runs["id"]:
        assert (tmp_path / "reports" / f"{run_id}.html").is_file() and run_id in index
    # the fee changes the out-of-sample result: the runs really differ
    sharpe = store.metrics("out_of_sample.total_return", wide=True)["out_of_sample.total_return"]
    assert sharpe.nunique() == 4

    again = fancy(*args, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 succeeded, 0 failed, 4 skipped" in again.stdout
    assert len(store.runs(kind="papermill")) == 4

    listed = fancy("runs", env=env)
    assert listed.returncode == 0 and all(i in listed.stdout for i in runs["id"])
    costs = fancy("costs", "--by", "kind", env=env)
    assert costs.returncode == 0, costs.stderr
    line = next(l for l in costs.stdout.splitlines() if l.startswith("papermill"))
    assert line.split()[1] == "4"                                 # 4 records of papermill work
    assert "batch" in costs.stdout and "(total)" in costs.stdout

    # a deleted database loses nothing: an import into an empty store gives the same rows
    env2 = {**env, "FANCY_STORE_URL": f"sqlite:///{tmp_path}/rebuilt.db"}
    imp = fancy("store", "import", env=env2)
    assert imp.returncode == 0 and "imported 6 run record(s)" in imp.stdout, imp.stdout + imp.stderr
    a, b = store.runs(), Store(env2["FANCY_STORE_URL"]).runs()
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    pd.testing.assert_frame_equal(store.metrics(), Store(env2["FANCY_STORE_URL"]).metrics())


def test_a_worker_killed_mid_run_loses_nothing_and_records_nothing_twice(sandbox, tmp_path):
    marker = tmp_path / "first-attempt.pid"
    nb = _toy(tmp_path / "toy.ipynb", params=f"k = 0\nmarker = {str(marker)!r}",
              body="import os, time, pathlib\nm = pathlib.Path(marker)\n"
                   "if k == 1 and not m.exists():\n    m.write_text(str(os.getppid()))\n    time.sleep(120)")
    env = _env(sandbox, tmp_path)
    proc = subprocess.Popen([str(BIN / "fancy"), "batch", str(nb), "-g", "k=0,1,2", "--workers", "2", "--no-report"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    while not marker.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert marker.exists(), "the run never started"
    time.sleep(1.0)
    worker = int(marker.read_text())            # the kernel's parent: the Dask worker process running the task
    os.kill(worker, signal.SIGKILL)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    assert "3 succeeded, 0 failed" in out
    store = Store(env["FANCY_STORE_URL"])
    runs = store.runs(kind="papermill")
    assert len(runs) == 3 and runs["id"].is_unique and set(runs["status"]) == {"succeeded"}
    by_k = {p["k"]: (a, i) for p, a, i in zip(runs["parameters"], runs["attempt"], runs["id"])}
    assert by_k[1][0] == 2 and by_k[0][0] == by_k[2][0] == 1     # the killed run was taken over once
    folders = [p for p in (tmp_path / "runs").iterdir() if (p / "manifest.json").exists()]
    assert len(folders) == 4                                     # three runs and the batch, no leftover attempt
    assert not any(json.loads((p / "manifest.json").read_text())["status"] == "running" for p in folders)


def test_a_batch_writes_to_postgresql_as_to_sqlite(sandbox, tmp_path, postgres_server):
    url = new_postgres_database(postgres_server)
    nb = _toy(tmp_path / "toy.ipynb")
    env = _env(sandbox, tmp_path, FANCY_STORE_URL=url)
    r = fancy("batch", str(nb), "-g", "k=1,2,3", "--workers", "2", "--no-report", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    s = Store(url)
    assert sorted(s.metrics("toy.k2")["value"]) == [1.0, 4.0, 9.0]
    assert "3 succeeded" in r.stdout and len(s.runs(kind="batch")) == 1


def test_one_failing_run_does_not_stop_the_others(sandbox, tmp_path):
    nb = _toy(tmp_path / "toy.ipynb", body="assert k != 2, 'planted failure at k=2'")
    env = _env(sandbox, tmp_path)
    r = fancy("batch", str(nb), "-g", "k=1,2,3", "--workers", "2", "--no-report", env=env)
    assert r.returncode == 1
    assert "2 succeeded, 1 failed" in r.stdout and "planted failure at k=2" in r.stdout
    s = Store(env["FANCY_STORE_URL"])
    assert sorted(s.runs(kind="papermill")["status"]) == ["failed", "succeeded", "succeeded"]
    assert s.runs(kind="batch")["status"].tolist() == ["failed"]


@pytest.mark.parametrize("args, expected", [
    (["batch", "reference_baselin", "-g", "fee=0.001"], "did you mean 'reference_baseline'"),
    (["batch", "reference_baseline", "-g", "fe=0.001"], "parameter 'fe' is not declared"),
    (["batch", "reference_baseline", "-g", "fee="], "is empty"),
    (["batch", "reference_baseline", "-g", "fee"], "expected NAME=V1,V2"),
    (["batch", "reference_baseline", "-g", "fee=cheap,0.001"], "parameter 'fee' is 'cheap'"),
    (["batch", "reference_baseline", "-g", "fee=0.001", "-g", "fee=0.002"], "given more than once"),
    (["batch", "reference_baseline", "-g", "fee=0.003", "--scheduler", "tcp://127.0.0.1:9"],
     "cannot reach the Dask scheduler at tcp://127.0.0.1:9"),
])
def test_bad_batch_input_is_refused_before_anything_exists(sandbox, tmp_path, args, expected):
    env = _env(sandbox, tmp_path)
    r = fancy(*args, env=env, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert expected in r.stderr, r.stderr
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


def test_a_batch_file_with_a_typo_is_refused(sandbox, tmp_path):
    f = tmp_path / "b.toml"
    f.write_text('[[run]]\nnotebook = "reference_baseline"\nparamters = { fee = 0.001 }\n')
    r = fancy("batch", str(f), env=_env(sandbox, tmp_path))
    assert r.returncode == 2 and "unknown key 'paramters' (did you mean 'parameters'?)" in r.stderr, r.stderr


def test_a_batch_file_runs_its_listed_set(sandbox, tmp_path):
    nb = _toy(tmp_path / "toy.ipynb")
    f = tmp_path / "b.toml"
    f.write_text(f'[batch]\nworkers = 1\n[[run]]\nnotebook = "{nb}"\ngrid = {{ k = [1, 2] }}\n'
                 f'[[run]]\nnotebook = "{nb}"\nparameters = {{ k = 5 }}\n')
    env = _env(sandbox, tmp_path)
    r = fancy("batch", str(f), "--no-report", env=env)
    assert r.returncode == 0 and "3 succeeded" in r.stdout, r.stdout + r.stderr
    assert sorted(Store(env["FANCY_STORE_URL"]).metrics("toy.k2")["value"]) == [1.0, 4.0, 25.0]


@pytest.mark.parametrize("url, expected", [
    ("mysql://u@h/db", "unsupported scheme 'mysql'"),
    ("postgresql+psycopg://postgres@127.0.0.1:9/none", "cannot reach PostgreSQL at 127.0.0.1:9"),
])
def test_a_bad_store_is_refused_before_a_run_is_created(sandbox, tmp_path, url, expected):
    env = _env(sandbox, tmp_path, FANCY_STORE_URL=url)
    r = fancy("run", "reference_baseline", env=env, timeout=120)
    assert r.returncode == 2 and expected in r.stderr, r.stderr
    assert not (tmp_path / "runs").exists()
    r = fancy("runs", env=env, timeout=120)
    assert r.returncode == 2 and expected in r.stderr


def test_a_read_only_store_refuses_runs_but_answers_queries(sandbox, tmp_path):
    env = _env(sandbox, tmp_path)
    Store(env["FANCY_STORE_URL"])
    os.chmod(tmp_path / "store.db", 0o444)
    r = fancy("run", "reference_baseline", env=env)
    assert r.returncode == 2 and "is read-only" in r.stderr, r.stderr
    assert not (tmp_path / "runs").exists()
    r = fancy("runs", env=env)
    assert r.returncode == 0 and "no runs in the store" in r.stdout
