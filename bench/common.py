"""Helpers shared by the benchmarks: best-of timing, and a family's configured in-sample bars."""
from __future__ import annotations
import time


def best_of(fn, repeats: int):
    "Best wall seconds of `repeats` calls of `fn`, and the last result."
    out, best = None, float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter(); out = fn(); best = min(best, time.perf_counter() - t0)
    return best, out


def configured_in_sample(letter: str):
    "(config, in-sample bars, other instruments cut at the in-sample end) of a family's scan configuration."
    from fancy_lib.scans import config_bars, split_bars
    from fancy_lib.strategies import load_scan_config
    cfg = load_scan_config(letter)
    bars, others = config_bars(cfg)
    ins, _ = split_bars(bars, cfg.split)
    cut = None if not others else {k: v[v.index <= ins.index[-1]] for k, v in others.items()}
    return cfg, ins, cut
