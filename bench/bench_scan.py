"""Scan throughput per strategy family, and `fancy scan --all` on 1 and 2 Dask workers.

For each executable family A-P, its configured scan (strategies/<letter>_*.toml: instrument, bar size,
split, grid, costs) is timed in-process: flag generation for the whole grid (`grid_signals`) and the
compiled in-sample grid backtest (`signal_grid`), in combinations x in-sample bars per second, best of
a few repeats after one warm-up (numba compiles once per process). Then `fancy scan --all` runs all
sixteen families end to end (papermill run, gates, store, reports, dashboard) with 1 and 2 workers,
each into an empty store so nothing is skipped. Printed, never asserted.

    .venv/bin/python bench/bench_scan.py [--repeats 3]
"""
from __future__ import annotations
import argparse, os, platform, subprocess, sys, tempfile, time
from pathlib import Path

from fancy_lib.backtest import signal_grid
from common import best_of, configured_in_sample
from fancy_lib.strategies import FAMILIES, executable, grid_signals

ROOT = Path(__file__).resolve().parents[1]




def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    print(f"bench_scan: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
    print(f"{'family':24s} {'combos':>7s} {'IS bars':>8s} {'flags s':>8s} {'grid s':>8s} {'combos x bars / s':>18s}")
    total = 0.0
    for letter, f in FAMILIES.items():
        if not executable(f)[0] and f.needs.missing:
            print(f"{letter} {f.name:22s} not executable: {', '.join(f.needs.missing)}"); continue
        cfg, ins, cut = configured_in_sample(letter)
        flags = lambda: grid_signals(f, ins, cfg.grid, others=cut)
        ent, ext = flags()
        signal_grid(ins, ent, ext, fee=cfg.fee, slippage=cfg.slippage)          # warm-up (compilation)
        t_flags, _ = best_of(flags, a.repeats)
        t_grid, g = best_of(lambda: signal_grid(ins, ent, ext, fee=cfg.fee, slippage=cfg.slippage), a.repeats)
        n = ent.shape[1]
        total += t_flags + t_grid
        print(f"{letter} {f.name:22s} {n:7d} {len(ins):8d} {t_flags:8.4f} {t_grid:8.4f} {n * len(ins) / (t_flags + t_grid):18,.0f}")
    print(f"all in-process scans (flags + grid): {total:.2f} s")
    fancy = str(Path(sys.executable).parent / "fancy")
    for workers in (1, 2):
        base = Path(tempfile.mkdtemp(prefix="bench-scan-"))
        env = {**os.environ, "FANCY_RUNS_DIR": str(base / "runs"), "FANCY_REPORTS_DIR": str(base / "reports"),
               "FANCY_STORE_URL": f"sqlite:///{base}/store.db", "OMP_WAIT_POLICY": "PASSIVE"}
        t0 = time.perf_counter()
        subprocess.run([fancy, "scan", "--all", "--workers", str(workers)], cwd=ROOT, env=env, check=True, capture_output=True)
        print(f"fancy scan --all, {workers} worker(s): {time.perf_counter() - t0:.1f} s wall (16 families, reports and dashboard)")


if __name__ == "__main__":
    main()
