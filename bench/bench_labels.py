"""fancy_lib.labels (compiled) vs the textbook pandas triple barrier (AFML snippets 3.2-3.5, 4.1, 4.2), one process.

1,000,000 one-minute bars of a seeded SYNTHETIC Gaussian random walk (0.1 % per bar), an event every 10th bar
(100,000 events), a one-day (1,440 bars) EWM volatility target, pt 2, sl 1, vertical one day. The compiled side
runs end to end: triple_barrier + average_uniqueness + sample_weights (validation, kernels and DataFrames).
The textbook version loops per event in pandas; it is far too slow to run on all events, so it runs on the
first `--ref-events` events and its time is EXTRAPOLATED linearly per event to all of them (said in the output).
Labels, touch times, barriers and returns are checked identical on that subset (exit 1 otherwise).
The textbook code here is a copy of the reference in nbs/17_labels.ipynb's tests, which is not exported.

    .venv/bin/python bench/bench_labels.py [--bars 1000000] [--every 10] [--ref-events 2000] [--repeats 3]
"""
from __future__ import annotations
import argparse, platform, sys, time

import numpy as np
import pandas as pd

from fancy_lib.labels import triple_barrier, average_uniqueness, sample_weights


def best_of(f, repeats: int):
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter(); out = f(); best = min(best, time.perf_counter() - t)
    return best, out


def ref_labels(close, t_events, pt_sl, trgt, span):
    "AFML 3.4 addVerticalBarrier, 3.2 applyPtSlOnT1, 3.3 getEvents (no side), 3.5 getBins; one process."
    t1 = close.index.searchsorted(t_events + pd.Timedelta(span))
    t1 = t1[t1 < close.shape[0]]
    t1 = pd.Series(close.index[t1], index=t_events[:t1.shape[0]])
    events = pd.concat({"t1": t1, "trgt": trgt.loc[t_events], "side": pd.Series(1.0, index=t_events)}, axis=1)
    out = events[["t1"]].copy(deep=True)
    pt, sl = pt_sl[0] * events["trgt"], -pt_sl[1] * events["trgt"]
    out["sl"] = out["pt"] = pd.Series(pd.NaT, index=out.index, dtype=close.index.dtype)
    for loc, t in events["t1"].fillna(close.index[-1]).items():
        df0 = close[loc:t]
        df0 = (df0 / close[loc] - 1) * events.at[loc, "side"]
        out.loc[loc, "sl"] = df0[df0 < sl[loc]].index.min()
        out.loc[loc, "pt"] = df0[df0 > pt[loc]].index.min()
    events["t1"] = out[["t1", "sl", "pt"]].min(axis=1)
    events_ = events.dropna(subset=["t1"])
    px = close.reindex(events_.index.union(events_["t1"].array).drop_duplicates(), method="bfill")
    bins = pd.DataFrame(index=events_.index)
    bins["ret"] = px.loc[events_["t1"].array].values / px.loc[events_.index] - 1
    bins["bin"] = np.sign(bins["ret"])
    bins["t1"] = events_["t1"]
    return events, bins


def ref_uniqueness(close_idx, t1):
    "AFML 4.1 mpNumCoEvents + 4.2 mpSampleTW."
    t1 = t1.fillna(close_idx[-1])
    count = pd.Series(0.0, index=close_idx)
    for t_in, t_out in t1.items(): count.loc[t_in:t_out] += 1.0
    wght = pd.Series(np.nan, index=t1.index)
    for t_in, t_out in t1.items(): wght.loc[t_in] = (1.0 / count.loc[t_in:t_out]).mean()
    return wght


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--ref-events", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()

    rng = np.random.default_rng(0)
    idx = pd.date_range("2020-01-01", periods=a.bars, freq="1min", tz="UTC", name="time")
    close = pd.Series(100 * np.exp(np.cumsum(0.001 * rng.standard_normal(a.bars))), index=idx, name="close")
    vol = close.pct_change(1440).ewm(span=100).std().dropna()
    events = vol.index[::a.every]
    target = vol.loc[events]
    print(f"SYNTHETIC random walk: {a.bars:,} one-minute bars, {len(events):,} events, pt 2 sl 1, vertical 1D; "
          f"python {platform.python_version()}, pandas {pd.__version__}")

    def compiled():
        lab = triple_barrier(close, events=events, pt=2, sl=1, target=target, vertical="1D")
        return lab, average_uniqueness(close, lab), sample_weights(close, lab)
    t = time.perf_counter(); compiled(); t_first = time.perf_counter() - t
    t_lab, _ = best_of(lambda: triple_barrier(close, events=events, pt=2, sl=1, target=target, vertical="1D"), a.repeats)
    t_all, (lab, u, w) = best_of(compiled, a.repeats)
    print(f"compiled triple_barrier              {t_lab:8.3f} s  ({t_lab / len(events) * 1e6:.2f} us/event)")
    print(f"compiled end to end (+uniqueness, weights) {t_all:8.3f} s  (first call, numba cache load included: {t_first:.3f} s)")
    print(f"barriers: {lab.barrier.value_counts().to_dict()}")

    sub = events[:a.ref_events]
    t = time.perf_counter(); ev, bins = ref_labels(close, sub, (2, 1), target, "1D"); t_ref_lab = time.perf_counter() - t
    t = time.perf_counter(); ru = ref_uniqueness(close.index, ev["t1"]); t_ref_u = time.perf_counter() - t
    got = triple_barrier(close, events=sub, pt=2, sl=1, target=target.loc[sub], vertical="1D")
    res = got[got.barrier != "open"]
    same = (res.index.equals(bins.index) and (res.t1.values == bins.t1.values).all()
            and (res.label.astype(int).values == bins.bin.astype(int).values).all()
            and np.array_equal(res.ret.values, bins.ret.values))
    gu = average_uniqueness(close, got)
    same_u = np.allclose(gu.values, ru.values, rtol=1e-12, atol=0)
    per_ev = (t_ref_lab + t_ref_u) / len(sub)
    extrap = per_ev * len(events)
    print(f"textbook pandas on the first {len(sub):,} events: labels {t_ref_lab:.2f} s, uniqueness {t_ref_u:.2f} s "
          f"= {per_ev * 1e3:.3f} ms/event")
    print(f"textbook EXTRAPOLATED to {len(events):,} events: {extrap:,.0f} s ({extrap / 60:.1f} min)")
    print(f"ratio textbook(extrapolated) / compiled end to end: {extrap / t_all:,.0f}x")
    print(f"ratio textbook labels per event / compiled labels per event: {(t_ref_lab / len(sub)) / (t_lab / len(events)):,.0f}x")
    print(f"identical labels, t1, barriers, returns on the subset: {same}; uniqueness within 1e-12: {same_u}")
    print(f"goal <= 1 s end to end for {a.bars:,} bars: {'met' if t_all <= 1 else 'NOT met'} ({t_all:.3f} s)")
    return 0 if same and same_u else 1


if __name__ == "__main__":
    sys.exit(main())
