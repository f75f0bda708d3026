"""The results store on both databases it supports: an embedded SQLite file and a real PostgreSQL server
(started by the suite). Same tests, same expectations: records and metrics round-trip, queries are
DataFrames, several processes write at once and lose nothing, old schemas are upgraded without losing
rows, unknown ones are refused, and a failed write leaves nothing."""
import math
import subprocess
import sys
import textwrap

import pytest
import sqlalchemy as sa

from conftest import ROOT
from fancy_lib.records import RunRecord
from fancy_lib.store import Store, StoreError, VERSION_TABLE, _migrate, head_revision


def rec(i, sharpe, *, status="succeeded", kind="papermill", day=1, batch=None):
    return RunRecord(id=f"run-{i:05d}", kind=kind, notebook="nbs/research/demo.ipynb", status=status, batch_id=batch,
                     parameters={"fee": 0.001, "i": i}, code={"commit": "c" * 40, "dirty": False},
                     timings={"started": f"2026-11-{day:02d}T10:00:00+00:00", "wall_s": 2.0, "cpu_s": 1.5},
                     metrics={"out_of_sample.sharpe": sharpe, "in_sample.sharpe": sharpe / 2, "odd": float("inf")})


def test_records_and_metrics_round_trip(store_url):
    s = Store(store_url)
    assert s.revision == head_revision()
    s.save_runs([rec(1, 0.4, day=1), rec(2, 1.2, day=2), rec(3, 2.0, day=3, status="failed")])
    assert list(s.runs()["id"]) == ["run-00003", "run-00002", "run-00001"]
    assert list(s.runs(status="succeeded", since="2026-11-02")["id"]) == ["run-00002"]
    # every run whose out-of-sample Sharpe is above 1: one call
    assert list(s.metrics("out_of_sample.sharpe", min=1.0)["run_id"]) == ["run-00002", "run-00003"]
    wide = s.metrics(wide=True)
    assert wide.loc["run-00001", "in_sample.sharpe"] == 0.2 and math.isnan(wide.loc["run-00001", "odd"])
    back = s.get_run("run-00002")
    assert back == rec(2, 1.2, day=2) and back.metrics["odd"] == float("inf")   # the record comes back whole
    s.save_run(rec(2, 1.3, day=2))                                              # a rewritten manifest replaces its row
    assert len(s.runs()) == 3 and s.metrics("out_of_sample.sharpe", run="run-00002")["value"].tolist() == [1.3]


def test_costs_show_failures_apart(store_url):
    s = Store(store_url)
    s.save_runs([rec(1, 1.0), rec(2, 1.0, status="failed"), rec(3, 1.0, kind="training")])
    s.save_usage([{"request_id": "req_a", "time": 1.79e9, "model": "fancy-image", "channel": "real", "status": 200,
                   "outcome": "ok", "n": 1, "forward_share_s": 0.2, "cpu_share_s": 0.18}])
    c = s.costs(by="kind")
    assert (c.loc["papermill", "records"], c.loc["papermill", "failed"], c.loc["papermill", "failed_cpu_s"]) == (2, 1, 1.5)
    assert c.loc["generation", "cpu_s"] == 0.18 and round(c["share"].sum(), 6) == 1.0
    assert set(s.costs(by="line").index) == {"quant", "image"}
    with pytest.raises(StoreError, match="did you mean 'day'"):
        s.costs(by="dya")


def test_a_failed_write_leaves_nothing(store_url):
    s = Store(store_url)
    bad = rec(2, 1.0)
    bad.status = None                       # past the record's own check: the database's NOT NULL must refuse it
    with pytest.raises(Exception):
        s.save_runs([rec(1, 1.0), bad])
    assert s.runs().empty and s.metrics().empty


WRITER = textwrap.dedent("""
    import sys
    from fancy_lib.records import RunRecord
    from fancy_lib.store import Store
    url, proc = sys.argv[1], int(sys.argv[2])
    s = Store(url)
    for i in range(25):
        s.save_run(RunRecord(id=f"p{proc}-{i}", notebook="w", status="succeeded", timings={"cpu_s": 0.1},
                             metrics={f"m{k}": float(k + i) for k in range(50)}))
""")


def test_several_processes_write_at_once_and_lose_nothing(store_url):
    Store(store_url)                        # create the schema first, as the batch does before its workers start
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, store_url, str(p)], cwd=ROOT, stderr=subprocess.PIPE, text=True)
             for p in range(4)]
    errs = [p.communicate(timeout=300)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errs
    s = Store(store_url)
    assert len(s.runs()) == 100 and len(s.metrics()) == 100 * 50


def test_concurrent_first_opens_migrate_once(store_url):
    code = "import sys; from fancy_lib.store import Store; print(Store(sys.argv[1]).revision)"
    procs = [subprocess.Popen([sys.executable, "-c", code, store_url], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [o[0].strip() for o in outs] == [head_revision()] * 3, outs


def test_an_older_store_is_upgraded_and_keeps_its_rows(store_url):
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        _migrate(conn, "0001")
        conn.execute(sa.text("INSERT INTO runs (id, kind, line, status, parameters, record) VALUES "
                             "('old', 'papermill', 'quant', 'succeeded', '{}', '{\"id\": \"old\", \"status\": \"succeeded\"}')"))
        conn.execute(sa.text("INSERT INTO metrics VALUES ('old', 'in_sample.sharpe', 0.7)"))
    engine.dispose()
    s = Store(store_url)
    assert s.revision == head_revision()
    assert s.runs()[["id", "batch_id"]].values.tolist() == [["old", None]]
    assert s.metrics()["value"].tolist() == [0.7]
    s.save_run(rec(1, 1.0, batch="b1"))                                         # the new columns work
    assert s.runs(batch="b1")["id"].tolist() == ["run-00001"]


def test_a_store_from_a_newer_version_is_refused_untouched(store_url):
    s = Store(store_url)
    s.save_run(rec(1, 1.0))
    with s.engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    s.engine.dispose()
    with pytest.raises(StoreError, match="revision '9999', which this fancy_lib does not know"):
        Store(store_url)
    e = sa.create_engine(store_url)
    with e.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM runs")).scalar() == 1


def test_import_rebuilds_the_same_rows(store_url, tmp_path):
    runs_dir = tmp_path / "runs"
    for i in range(3):
        rec(i, 0.5 * i).save(runs_dir / f"run-{i:05d}")
    s = Store(store_url)
    assert s.import_runs(runs_dir).runs == 3
    first = s.runs().drop(columns=["run_dir"])
    assert s.import_runs(runs_dir).runs == 3 and len(s.runs()) == 3           # idempotent
    pd = pytest.importorskip("pandas")
    pd.testing.assert_frame_equal(s.runs().drop(columns=["run_dir"]), first)


def test_a_postgresql_server_that_is_down_is_named(postgres_server):
    port = postgres_server["port"] + 1 if postgres_server["port"] < 65535 else 1
    with pytest.raises(StoreError, match=f"cannot reach PostgreSQL at 127.0.0.1:{port}"):
        Store(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres")


def test_bad_urls_are_refused_before_anything_is_created(tmp_path):
    with pytest.raises(StoreError, match="unsupported scheme 'mysql'"):
        Store("mysql://u@h/db")
    with pytest.raises(StoreError, match="did you mean 'sqlite'"):
        Store(f"sqlit:///{tmp_path}/x.db")
    assert list(tmp_path.iterdir()) == []
