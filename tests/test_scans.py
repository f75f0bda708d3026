"""The strategy families end to end: `fancy scan --all` scans all sixteen through `fancy batch`, writes the
dashboard, and `fancy status --json` lists sixteen statuses that `gates` recomputes from the store alone;
running it again resumes (nothing re-scanned, no status changes); bad input is refused clearly."""
import json

from conftest import fancy
from fancy_lib.reports import remote_references
from fancy_lib.store import Store


def _env(sandbox, tmp_path):
    return {**sandbox["env"], "FANCY_RUNS_DIR": str(tmp_path / "runs"), "FANCY_REPORTS_DIR": str(tmp_path / "reports"),
            "FANCY_STORE_URL": f"sqlite:///{tmp_path}/store.db"}


def test_scan_all_gives_the_dashboard_and_sixteen_statuses(sandbox, tmp_path):
    env = _env(sandbox, tmp_path)
    r = fancy("scan", "--all", "--workers", "2", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    dash = tmp_path / "reports" / "dashboard.html"
    html = dash.read_text()
    assert remote_references(html) == [] and html.count("<tr>") == 17
    assert "not executable: missing futures prices" in html and "<b>0</b> never scanned" in html
    st = fancy("status", "--json", env=env)
    assert st.returncode == 0, st.stderr
    rep = json.loads(st.stdout)
    assert [e["family"] for e in rep] == list("ABCDEFGHIJKLMNOP")
    assert all(e["consistent"] and e["status"] for e in rep)             # recomputed from the store alone
    assert {e["family"] for e in rep if e["status"] == "not_executable"} == {"M", "N"}
    store = Store(env["FANCY_STORE_URL"])
    # every family's page exists, and every combination tried is in the ledger
    scans = store.runs(kind="scan")
    assert len(scans) == 16 and all((tmp_path / "reports" / f"{i}.html").is_file() for i in scans["id"])
    assert len(store.trials()) >= 14 * 10
    meta = store.metrics("meta.auc_out_of_sample")       # family L's model is shown with its own out-of-sample AUC
    assert len(meta) == 1 and 0 <= meta["value"].iloc[0] <= 1 and store.metrics("meta.models")["value"].iloc[0] > 10
    history = len(store.statuses(history=True))

    again = fancy("scan", "--all", "--workers", "2", env=env)             # resumable: nothing to do
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(store.runs(kind="scan")) == 16 and len(store.statuses(history=True)) == history
    assert json.loads(fancy("status", "--json", env=env).stdout) == rep


def test_bad_scan_input_is_refused(sandbox, tmp_path):
    env = _env(sandbox, tmp_path)
    r = fancy("scan", "Q", env=env)
    assert r.returncode == 2 and "strategy family 'Q' is unknown" in r.stderr
    r = fancy("scan", "ma_trnd", env=env)
    assert r.returncode == 2 and "did you mean 'ma_trend'" in r.stderr
    r = fancy("scan", "A", "--split", "2030-01-01", env=env)
    assert r.returncode == 2 and "is outside the data" in r.stderr
    r = fancy("scan", "A", "--split", "2017-10-02", env=env)
    assert r.returncode == 2 and "expected at least 50" in r.stderr
    r = fancy("scan", env=env)
    assert r.returncode == 2 and "give one FAMILY" in r.stderr
    assert not (tmp_path / "runs").exists()


def test_one_family_scan_writes_its_report_and_status(sandbox, tmp_path):
    env = _env(sandbox, tmp_path)
    r = fancy("scan", "H", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "H: " in r.stdout and "dashboard:" in r.stdout
    store = Store(env["FANCY_STORE_URL"])
    (scan_id,) = store.runs(kind="scan")["id"]
    assert set(store.gate_outcomes("H")["scan_id"]) == {scan_id}
    assert store.oos_openings("H")["outcome"].tolist() == ["opened"]
