"""fancy_lib.metrics vs quantstats, side by side in one process.

Eight metrics that both libraries define, on a DataFrame of 1,000 seeded synthetic daily return series
x 2,520 days (ten years), plus the real AAPL daily series for the value check. Values must agree to
1e-9 relative (the script exits 1 otherwise); timings are the best of a few repeats and are printed,
never asserted.

    .venv/bin/python bench/bench_metrics.py [--repeats 3] [--series 1000] [--days 2520]

quantstats memoizes its `_prepare_returns` by a hash of the input; the cache is cleared before every
quantstats call so that each repeat does the work a first call does (fancy_lib keeps no cache).
"""
from __future__ import annotations
import argparse, os, platform, sys, time, warnings
from pathlib import Path

import numpy as np
import pandas as pd
import quantstats as qs

import fancy_lib
from fancy_lib import metrics as fm
from fancy_lib.config import load_settings

PPY = 252
TOL = 1e-9

# name -> (fancy_lib call, quantstats call); calendar=False is quantstats' observation-count CAGR
METRICS = {
    "total_return": (lambda r: fm.total_return(r), lambda r: qs.stats.comp(r)),
    "cagr": (lambda r: fm.cagr(r, periods_per_year=PPY, calendar=False), lambda r: qs.stats.cagr(r, periods=PPY)),
    "volatility": (lambda r: fm.annual_volatility(r, periods_per_year=PPY), lambda r: qs.stats.volatility(r, periods=PPY)),
    "sharpe": (lambda r: fm.sharpe(r, periods_per_year=PPY), lambda r: qs.stats.sharpe(r, periods=PPY)),
    "sortino": (lambda r: fm.sortino(r, periods_per_year=PPY), lambda r: qs.stats.sortino(r, periods=PPY)),
    "max_drawdown": (lambda r: fm.max_drawdown(r), lambda r: qs.stats.max_drawdown(r)),
    "calmar": (lambda r: fm.calmar(r, periods_per_year=PPY, calendar=False), lambda r: qs.stats.calmar(r, periods=PPY)),
    "probabilistic_sharpe": (lambda r: fm.probabilistic_sharpe(r), lambda r: qs.stats.probabilistic_sharpe_ratio(r)),
}


def aapl_returns() -> pd.Series:
    "AAPL daily close-to-close returns from the bundled sample data/AAPL_1d.parquet."
    pq = load_settings().data_dir / "AAPL_1d.parquet"
    close, source = pd.read_parquet(pq)["close"], str(pq)
    print(f"AAPL from {source}")
    return close.pct_change().dropna().rename("AAPL")


def synthetic_returns(n_series: int, n_days: int, seed: int = 42) -> pd.DataFrame:
    "Seeded fat-tailed daily returns (Student t, 4 d.o.f.) with per-series drift and volatility."
    rng = np.random.default_rng(seed)
    vol = rng.uniform(0.005, 0.03, n_series)
    drift = rng.normal(0.0003, 0.0005, n_series)
    x = rng.standard_t(4, (n_days, n_series)) * vol / np.sqrt(2.0) + drift
    return pd.DataFrame(np.clip(x, -0.95, None), index=pd.bdate_range("2010-01-04", periods=n_days),
                        columns=[f"s{i:04d}" for i in range(n_series)])


def max_rel_diff(ours, theirs) -> float:
    a = np.atleast_1d(np.asarray(ours, dtype=float))
    b = np.atleast_1d(np.asarray(theirs.reindex(ours.index) if isinstance(theirs, pd.Series) else theirs, dtype=float))
    both_nan = np.isnan(a) & np.isnan(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(both_nan, 0.0, np.abs(a - b) / np.maximum(np.abs(b), 1e-300))
    return float(np.nanmax(np.where(np.isnan(d), np.inf, d)))


def best_of(f, repeats: int, before=None) -> float:
    ts = []
    for _ in range(repeats):
        if before: before()
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return min(ts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--days", type=int, default=2520)
    a = ap.parse_args()
    warnings.simplefilter("ignore")     # quantstats' RuntimeWarnings are not what is measured

    print(f"fancy_lib {fancy_lib.__version__} | quantstats {qs.__version__} | pandas {pd.__version__} | numpy {np.__version__} "
          f"| python {platform.python_version()} | {platform.machine()} {os.cpu_count()} CPU(s)")
    aapl = aapl_returns()
    frame = synthetic_returns(a.series, a.days)
    print(f"synthetic: {frame.shape[1]:,} series x {frame.shape[0]:,} days (seed 42); AAPL: {len(aapl):,} days "
          f"{aapl.index[0].date()} .. {aapl.index[-1].date()}\n")

    clear_qs = qs.utils._PREPARE_RETURNS_CACHE.clear
    for ours, _ in METRICS.values():     # warm up: numba kernels, pandas internals
        ours(frame); ours(aapl)

    ok, rows = True, []
    for name, (ours, theirs) in METRICS.items():
        clear_qs()
        d_aapl = max_rel_diff(ours(aapl), theirs(aapl))
        clear_qs()
        d_frame = max_rel_diff(ours(frame), theirs(frame))
        agree = d_aapl < TOL and d_frame < TOL
        ok &= agree
        t_qs = best_of(lambda: theirs(frame), a.repeats, before=clear_qs)
        t_fl = best_of(lambda: ours(frame), max(a.repeats, 5))
        rows.append((name, d_aapl, d_frame, "ok" if agree else "DIFFERS", t_qs, t_fl))

    print(f"{'metric':22s} {'rel diff AAPL':>13s} {'rel diff 1k':>12s} {'values':>7s} {'quantstats':>11s} {'fancy_lib':>10s} {'ratio':>8s}")
    for name, da, dfm, verdict, tq, tf in rows:
        print(f"{name:22s} {da:13.1e} {dfm:12.1e} {verdict:>7s} {tq*1e3:9.1f}ms {tf*1e3:8.2f}ms {tq/tf:7.0f}x")
    tq, tf = sum(r[4] for r in rows), sum(r[5] for r in rows)
    print(f"{'all 8':22s} {'':13s} {'':12s} {'':7s} {tq*1e3:9.1f}ms {tf*1e3:8.2f}ms {tq/tf:7.0f}x")
    print(f"\ngoal fancy_lib >= 50x quantstats: {'met' if tq / tf >= 50 else 'NOT met'} ({tq/tf:.0f}x); "
          f"values within {TOL:g} relative: {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
