"""fancy_lib.cv vs skfolio 1.12, side by side in one process.

Combinatorial purged CV, N = 10 groups, k = 2 test groups (45 splits, 9 paths), on 100,000 samples whose
labels end 1-50 bars after they start (seeded uniform lengths). Timed: building all 45 (train, test)
pairs, best of a few repeats. Leaks: a training row leaks when its label [start, t1] overlaps a test
row's; every training row of every split is counted by an exact prefix-maximum check, and that count is
confirmed by brute force (every pair) on a subset of training rows per split: all those within 60 rows of
a test row (where a label of at most 50 bars can reach) and a random sample of the others. fancy_lib must leak
0 rows (exit 1 otherwise).

skfolio is count-based: with `purged_size=0` its splits leak; with `purged_size=50` (the longest label)
they leak nothing but drop rows whose labels do not overlap. In its count mode (labels ending exactly
`purged_size` rows later, embargo of `embargo_size` rows) fancy_lib's indices must equal skfolio's
(exit 1 otherwise). Timings are printed, never asserted.

    .venv/bin/python bench/bench_cv.py [--samples 100000] [--groups 10] [--test-groups 2] [--repeats 5] [--subset 200]
"""
from __future__ import annotations
import argparse, platform, sys

import numpy as np
import pandas as pd
import skfolio
from skfolio.model_selection import CombinatorialPurgedCV as SkfolioCPCV

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from common import best_of

import fancy_lib
from fancy_lib.cv import CombinatorialPurgedCV


def leaks_exact(start, end, train, test) -> int:
    "Training rows overlapping a test row: among test rows starting at or before t1_train, is the latest end >= start_train?"
    ts, te = start[test], np.maximum.accumulate(end[test])
    k = np.searchsorted(ts, end[train], side="right")           # test rows with start <= t1 of each training row
    ok = k > 0
    return int((te[np.maximum(k - 1, 0)][ok] >= start[train][ok]).sum())


def leaks_brute(start, end, train, test) -> int:
    "The same count, pair by pair."
    s, e = start[test], end[test]
    return int(((start[train, None] <= e) & (s <= end[train, None])).any(axis=1).sum())


def count_leaks(start, end, splits, rng, subset: int) -> tuple[int, int, int]:
    "(leaked rows over all splits, leaked rows in the brute-force subset, the exact count on that subset)."
    total = sub_brute = sub_exact = 0
    for tr, te in splits:
        total += leaks_exact(start, end, tr, te)
        j = np.clip(np.searchsorted(te, tr), 1, te.size - 1)
        gap = np.minimum(np.abs(tr - te[j - 1]), np.abs(te[j] - tr))
        near = tr[gap <= 60]                                       # every training row within 60 rows of a test row
        pick = np.unique(np.r_[rng.choice(tr, subset, replace=False), near])
        sub_brute += leaks_brute(start, end, pick, te)
        sub_exact += leaks_exact(start, end, pick, te)
    return total, sub_brute, sub_exact


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=100_000)
    ap.add_argument("--groups", type=int, default=10)
    ap.add_argument("--test-groups", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--subset", type=int, default=200)
    a = ap.parse_args()
    n, N, k = a.samples, a.groups, a.test_groups
    rng = np.random.default_rng(2024)
    ix = pd.date_range("2020-01-01", periods=n, freq="min")
    length = rng.integers(1, 51, n)
    t1 = pd.Series(ix[np.minimum(np.arange(n) + length, n - 1)], index=ix)
    X = np.zeros((n, 1))
    start, end = ix.asi8.copy(), pd.DatetimeIndex(t1).asi8.copy()
    print(f"fancy_lib {fancy_lib.__version__}, skfolio {skfolio.__version__}, Python {platform.python_version()}, "
          f"CPCV N={N} k={k}, {n:,} samples, label lengths 1-50 bars")
    ok = True

    cv = CombinatorialPurgedCV(N, k, t1, embargo=0)
    t_fl, ours = best_of(lambda: list(cv.split(X)), a.repeats)
    total, sb, se = count_leaks(start, end, ours, rng, a.subset)
    ok &= total == 0 and sb == se == 0
    kept = sum(len(tr) for tr, _ in ours)
    print(f"fancy_lib purged by t1     {t_fl:7.3f} s  {len(ours)} splits  leaked rows {total:,} "
          f"(brute force on a subset: {sb} of {se} by the exact count)  train rows kept {kept:,}")

    for ps in (0, 50):
        ref = SkfolioCPCV(n_folds=N, n_test_folds=k, purged_size=ps)
        t_sk, theirs = best_of(lambda: [(tr, np.concatenate(te)) for tr, te in ref.split(X)], a.repeats)
        total_sk, sb, se = count_leaks(start, end, theirs, rng, a.subset)
        ok &= sb == se
        print(f"skfolio purged_size={ps:<3d}    {t_sk:7.3f} s  {len(theirs)} splits  leaked rows {total_sk:,} "
              f"(brute force on a subset: {sb} of {se} by the exact count)  train rows kept "
              f"{sum(len(tr) for tr, _ in theirs):,}   fancy_lib/skfolio time {t_fl / t_sk:.2f}x")

    for ps, es in ((50, 0), (50, 100), (7, 3)):
        cm = pd.Series(ix[np.minimum(np.arange(n) + ps, n - 1)], index=ix)
        ours_cm = list(CombinatorialPurgedCV(N, k, cm, embargo=es).split(X))
        ref = SkfolioCPCV(n_folds=N, n_test_folds=k, purged_size=ps, embargo_size=es)
        same = all(np.array_equal(tr, rtr) and np.array_equal(te, np.concatenate(rte))
                   for (tr, te), (rtr, rte) in zip(ours_cm, ref.split(X), strict=True))
        same &= np.array_equal(CombinatorialPurgedCV(N, k, cm).paths(), ref.recombined_paths.T)
        ok &= same
        print(f"count mode purged_size={ps} embargo_size={es}: indices and paths identical to skfolio: {same}")

    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
