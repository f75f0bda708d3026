"""The results store on SQLite and on PostgreSQL: inserts per second of run records with 50 metrics
each, and a query of 100k runs into a DataFrame.

PostgreSQL is a throw-away server started from Debian's postgresql package (tests/postgres.py, as the
test suite does), on this machine's loopback, fsync off; SQLite is a file in WAL mode, synchronous
NORMAL (the store's settings). Printed, never asserted:

- one transaction per record (what a run does when it finishes): records/s and metric rows/s;
- records written 500 per transaction (what `fancy store import` does): records/s;
- `Store.runs()` of 100k runs into a DataFrame, and `Store.metrics(name, min=...)` over 5M metric rows.

    .venv/bin/python bench/bench_store.py [--single 1000] [--runs 100000]
"""
from __future__ import annotations
import argparse, os, platform, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from postgres import new_database, postgres_server_running  # noqa: E402

from fancy_lib.records import RunRecord  # noqa: E402
from fancy_lib.store import Store  # noqa: E402


def record(i: int) -> RunRecord:
    return RunRecord(id=f"20261201T000000Z-bench-{i:08d}", notebook="nbs/research/reference_baseline.ipynb", status="succeeded",
                     notebook_sha256="a" * 64, parameters={"fee": 0.001, "bar": "4h", "i": i}, defaults={"fee": 0.001, "bar": "4h"},
                     seed=42, code={"commit": "c" * 40, "dirty": False}, packages={"numpy": "2.3", "pandas": "2.3"},
                     timings={"started": f"2026-11-{1 + i % 28:02d}T10:00:00+00:00", "wall_s": 12.5, "cpu_s": 11.0},
                     data={"bars": {"rows": 30000, "start": "2017-10-01", "end": "2019-06-30", "content_hash": "f" * 64}},
                     metrics={f"group{k // 10}.metric{k % 10}": (i * 50 + k) / 1e6 for k in range(50)})


def bench(label: str, url: str, single: int, total: int):
    s = Store(url)
    t0 = time.perf_counter()
    for i in range(single): s.save_run(record(i))
    t_single = time.perf_counter() - t0
    t0 = time.perf_counter()
    for j in range(single, total, 500): s.save_runs([record(i) for i in range(j, min(total, j + 500))])
    t_bulk = time.perf_counter() - t0
    t0 = time.perf_counter(); df = s.runs(); t_q = time.perf_counter() - t0
    t0 = time.perf_counter(); m = s.metrics("group3.metric7", min=2.0); t_m = time.perf_counter() - t0
    assert len(df) == total and len(m) > 0
    bulk_n = total - single
    print(f"{label:10s} {single / t_single:12.0f} {single * 50 / t_single:14.0f} {bulk_n / t_bulk:12.0f} "
          f"{t_q:12.2f} {t_m:12.3f}  ({len(df):,} runs, {total * 50:,} metric rows)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--single", type=int, default=1000, help="records written one transaction each")
    ap.add_argument("--runs", type=int, default=100_000, help="records in the store for the queries")
    a = ap.parse_args()
    print(f"bench_store: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}; 50 metrics per record")
    print(f"{'store':10s} {'records/s':>12s} {'metric rows/s':>14s} {'bulk rec/s':>12s} {'runs() s':>12s} {'metrics() s':>12s}")
    print(f"{'':10s} {'(1 per txn)':>12s} {'(1 per txn)':>14s} {'(500/txn)':>12s} {'(all runs)':>12s} {'(1 name)':>12s}")
    bench("sqlite", f"sqlite:///{tempfile.mkdtemp()}/store.db", a.single, a.runs)
    with postgres_server_running() as server:
        bench("postgresql", new_database(server), a.single, a.runs)


if __name__ == "__main__":
    main()
