"""`fancy batch` vs a shell loop of `fancy run`, on the same 16 runs of the reference notebook.

The 16 runs are the grid fee x bar (4 x 4) of nbs/research/reference_baseline.ipynb on the bundled
BTC/USD bars. Three ways, one after the other, each into its own runs folder and store:

1. a shell loop: 16 `fancy run` processes one after the other (what a user without `fancy batch` does);
2. `fancy batch --workers 1`;
3. `fancy batch --workers 2`.

Printed: wall seconds of each, the speed-up of each batch over the loop, and the fixed cost per task:
(wall x workers - the runs' own summed wall seconds) / runs, i.e. what each task costs beyond its own
notebook execution (process start and imports for the loop; scheduling, serialisation and the Dask
cluster for a batch). Nothing is asserted on time; the runs' metrics must agree across the three ways
(the script exits 1 otherwise).

    .venv/bin/python bench/bench_batch.py [--fees 4] [--bars 1h,2h,4h,1d]
"""
from __future__ import annotations
import argparse, os, platform, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FANCY = str(Path(sys.executable).parent / "fancy")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fees", default="0.0005,0.001,0.0015,0.002")
    ap.add_argument("--bars", default="1h,2h,4h,1d")
    args = ap.parse_args()
    fees, bars = args.fees.split(","), args.bars.split(",")
    n = len(fees) * len(bars)
    base = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    from fancy_lib.store import Store

    def env(name):
        return {**os.environ, "FANCY_RUNS_DIR": str(base / name / "runs"), "FANCY_REPORTS_DIR": str(base / name / "reports"),
                "FANCY_STORE_URL": f"sqlite:///{base / name}/store.db", "OMP_WAIT_POLICY": "PASSIVE"}

    # warm the numba cache once, so that no way pays the first compilation
    subprocess.run([FANCY, "run", "reference_baseline", "--no-report"], cwd=ROOT, env=env("warm"), check=True, capture_output=True)
    results = {}
    t0 = time.perf_counter()
    for fee in fees:
        for bar in bars:
            subprocess.run([FANCY, "run", "reference_baseline", "-p", "fee", fee, "-p", "bar", bar], cwd=ROOT, env=env("loop"),
                           check=True, capture_output=True)
    results["shell loop of fancy run"] = ("loop", time.perf_counter() - t0, 1)
    for workers in (1, 2):
        name = f"batch{workers}"
        t0 = time.perf_counter()
        subprocess.run([FANCY, "batch", "reference_baseline", "-g", "fee=" + ",".join(fees), "-g", "bar=" + ",".join(bars),
                        "--workers", str(workers)], cwd=ROOT, env=env(name), check=True, capture_output=True)
        results[f"fancy batch --workers {workers}"] = (name, time.perf_counter() - t0, workers)

    print(f"bench_batch: {n} runs of reference_baseline ({len(fees)} fees x {len(bars)} bars), "
          f"{platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
    print(f"{'way':32s} {'wall s':>8s} {'runs own s':>11s} {'fixed s/task':>13s} {'speed-up':>9s}")
    loop_wall = results["shell loop of fancy run"][1]
    values = {}
    for label, (name, wall, workers) in results.items():
        s = Store(f"sqlite:///{base / name}/store.db")
        runs = s.runs(kind="papermill")
        assert len(runs) == n, (label, len(runs))
        own = float(runs["wall_s"].sum())
        m = s.metrics("out_of_sample.total_return")
        key = {tuple(sorted(p.items())): rid for p, rid in zip(runs["parameters"], runs["id"])}
        values[label] = {k: float(m.loc[m.run_id == rid, "value"].iloc[0]) for k, rid in key.items()}
        fixed = (wall * workers - own) / n
        print(f"{label:32s} {wall:8.1f} {own:11.1f} {fixed:13.2f} {loop_wall / wall:8.2f}x")
    ref = values["shell loop of fancy run"]
    bad = [(label, k) for label, v in values.items() for k in ref if v.get(k) != ref[k]]
    if bad:
        print(f"DISAGREEMENT: {bad[:5]}"); sys.exit(1)
    print(f"same out-of-sample total return for all {n} parameter sets in all three ways")


if __name__ == "__main__":
    main()
