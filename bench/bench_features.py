"""fancy_lib.features on a million synthetic OHLCV bars: seconds per family and for all features.

The bars are seeded one-minute SYNTHETIC bars (fancy_lib.synthetic). The compiled kernels are loaded on a
small slice first, so the timings are those of a warm process; each is the best of a few repeats and is
printed, never asserted. There is no feature library installed to race against (TA-Lib, ta, pandas-ta
are absent), so the peer is the textbook pandas form of the two compiled features, `rolling().apply`
(a Python call per bar), timed on a slice and scaled to the same bar count.

    .venv/bin/python bench/bench_features.py [--bars 1000000] [--repeats 3] [--peer-bars 20000]
"""
from __future__ import annotations
import argparse, os, platform, sys, time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of
from fancy_lib.features import FAMILIES, FEATURES, compute_features
from fancy_lib.synthetic import synthetic_bars


def _peer_linreg(close: pd.Series) -> pd.Series:
    "Textbook rolling least-squares slope of log close over 20 bars."
    t = np.arange(20)
    return np.log(close).rolling(20).apply(lambda w: np.polyfit(t, w, 1)[0], raw=True)


def _peer_aroon(bars: pd.DataFrame) -> pd.Series:
    "Textbook Aroon oscillator over 25 bars (argmax/argmin per window)."
    return (bars.high.rolling(25).apply(np.argmax, raw=True) - bars.low.rolling(25).apply(np.argmin, raw=True)) / 24


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--peer-bars", type=int, default=20_000)
    a = ap.parse_args()

    print(f"python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
          f"{os.cpu_count()} CPUs visible")
    t0 = time.perf_counter()
    bars = synthetic_bars(a.bars, freq="1min", seed=0).bars
    print(f"{len(bars):,} SYNTHETIC 1-minute bars generated in {time.perf_counter() - t0:.2f} s")
    compute_features(bars.iloc[:1000])                     # compiled kernels loaded from the cache

    print(f"\n{'family':<12}{'features':>9}{'seconds':>10}{'ns/bar/feature':>16}")
    total_fam = 0.0
    for fam in FAMILIES:
        names = [n for n, f in FEATURES.items() if f.family == fam]
        s, X = best_of(lambda: compute_features(bars, names), a.repeats)
        assert X.shape == (len(bars), len(names))
        total_fam += s
        print(f"{fam:<12}{len(names):>9}{s:>10.3f}{s / len(bars) / len(names) * 1e9:>16.1f}")
    s_all, X = best_of(lambda: compute_features(bars), a.repeats)
    print(f"{'all':<12}{X.shape[1]:>9}{s_all:>10.3f}{s_all / len(bars) / X.shape[1] * 1e9:>16.1f}"
          f"   (sum of families {total_fam:.3f} s; shared arrays are computed once in 'all')")

    print(f"\npeer: pandas rolling().apply on {a.peer_bars:,} bars, scaled to {len(bars):,}")
    part = bars.iloc[:a.peer_bars]
    for name, peer in (("linreg_slope_20", lambda: _peer_linreg(part.close)), ("aroon_osc_25", lambda: _peer_aroon(part))):
        sp, ref = best_of(peer, 1)
        sp *= len(bars) / len(part)
        sf, X = best_of(lambda: compute_features(bars, [name]), a.repeats)
        assert np.allclose(X[name].to_numpy()[:len(part)], ref.to_numpy(), equal_nan=True, atol=1e-12), name
        print(f"  {name:<16} fancy_lib {sf:8.3f} s   pandas apply ~{sp:8.1f} s   ratio {sp / sf:8.0f}x  (values equal)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
