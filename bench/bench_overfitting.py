"""fancy_lib.overfitting vs ffn 1.4.1, side by side in one process.

PBO by CSCV on 342 trial return streams x 3,008 rows, S = 16 (12,870 combinations), and the deflated
Sharpe ratio of the best trial against all 342. The columns are seeded synthetic daily returns (Student-t,
4 degrees of freedom) with a few exact duplicates, so ties are exercised. Logits must be identical to
ffn's combination by combination and the DSR must agree to 1e-9 (the script exits 1 otherwise); timings
are the best of a few repeats (ffn runs once: it takes about a minute) and are printed, never asserted.

Hansen's SPA test (`spa`, unstudentized) on the same trials, block size 10 and 1,000 replications, against
arch 8.0.0's `SPA` fed losses = -returns and a zero benchmark: the three p-values must be equal (exit 1
otherwise); the studentized default is timed too (arch has no studentized statistic to compare with).

    .venv/bin/python bench/bench_overfitting.py [--repeats 5] [--trials 342] [--rows 3008] [--blocks 16] [--spa-reps 1000]
"""
from __future__ import annotations
import argparse, platform, sys, time

import numpy as np
import pandas as pd
import ffn
from arch.bootstrap import SPA

import fancy_lib
from fancy_lib import overfitting as fo
from fancy_lib.metrics import sharpe

PPY = 252
TOL = 1e-9


def best_of(f, repeats: int) -> tuple[float, object]:
    "Best wall time of `repeats` calls, and the last result."
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter(); out = f(); best = min(best, time.perf_counter() - t)
    return best, out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--trials", type=int, default=342)
    ap.add_argument("--rows", type=int, default=3008)
    ap.add_argument("--blocks", type=int, default=16)
    ap.add_argument("--spa-reps", type=int, default=1000)
    a = ap.parse_args()
    rng = np.random.default_rng(2024)
    x = rng.standard_t(4, (a.rows, a.trials)) * 0.01 + 0.0002
    x[:, 1::50] = x[:, 0::50][:, : x[:, 1::50].shape[1]]          # a few exact duplicate columns
    df = pd.DataFrame(x, index=pd.bdate_range("2012-01-02", periods=a.rows))
    print(f"fancy_lib {fancy_lib.__version__}, ffn {ffn.__version__}, Python {platform.python_version()}, "
          f"{a.rows:,} rows x {a.trials} trials, S={a.blocks}")

    t = time.perf_counter(); fo.pbo(df, a.blocks); first = time.perf_counter() - t
    t_fl, r = best_of(lambda: fo.pbo(df, a.blocks), a.repeats)
    t = time.perf_counter(); ref = ffn.core.calc_prob_backtest_overfitting(df, n_blocks=a.blocks, full_output=True)
    t_ffn = time.perf_counter() - t
    same = np.array_equal(r.logits.to_numpy(), ref["logits"].to_numpy(), equal_nan=True) and (
        r.pbo == ref["pbo"] or (np.isnan(r.pbo) and np.isnan(ref["pbo"])))
    print(f"pbo   fancy_lib {t_fl:8.4f} s (first call {first:.3f} s, numba cache/compile)   ffn {t_ffn:8.2f} s   "
          f"ratio ffn/fancy_lib {t_ffn / t_fl:8.0f}x   PBO {r.pbo:.4f} vs {ref['pbo']:.4f}   logits identical: {same}")

    srs = sharpe(df, periods_per_year=PPY)
    best = df[srs.idxmax()]
    t_d, d = best_of(lambda: fo.deflated_sharpe_from_trials(best, srs, periods_per_year=PPY), a.repeats * 20)
    t_dffn, dref = best_of(lambda: ffn.core.calc_deflated_sharpe_ratio(best, srs, nperiods=PPY), a.repeats * 20)
    close = abs(d - dref) <= TOL
    print(f"dsr   fancy_lib {t_d * 1e3:8.3f} ms   ffn {t_dffn * 1e3:8.3f} ms   ratio ffn/fancy_lib {t_dffn / t_d:8.1f}x   "
          f"DSR {d:.12f} vs {dref:.12f}   |diff| {abs(d - dref):.1e}")

    spa_args = dict(reps=a.spa_reps, seed=0)
    t_s, s = best_of(lambda: fo.spa(df, 10, studentize=False, **spa_args), a.repeats)
    t_st, st = best_of(lambda: fo.spa(df, 10, **spa_args), a.repeats)
    def arch_spa():
        m = SPA(np.zeros(len(df)), -df, block_size=10, bootstrap="stationary", studentize=False, **spa_args)
        m.compute()
        return m.pvalues
    t_a, pa = best_of(arch_spa, 1)
    spa_same = s.pvalues.equals(pa)
    print(f"spa   fancy_lib {t_s:8.4f} s (studentized {t_st:.4f} s)   arch {t_a:8.3f} s   ratio arch/fancy_lib {t_a / t_s:6.1f}x   "
          f"p-values {s.pvalues.round(4).to_dict()} vs {pa.round(4).to_dict()}   equal: {spa_same}")
    return 0 if same and close and spa_same else 1


if __name__ == "__main__":
    sys.exit(main())
