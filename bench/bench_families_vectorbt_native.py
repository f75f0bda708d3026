"""Strategy families on large grids: fancy_lib end to end against vectorbt with its *own* indicators, in one run.

`bench_families_vectorbt.py` hands vectorbt fancy_lib's flags, so only the simulation is compared. Here each
engine does the whole job on the same grid (hundreds to a few thousand combinations per family, every one
valid under the family's rule, every value inside the family's declared ranges) on the family's configured
in-sample bars (`common.configured_in_sample`):

* fancy_lib   `strategies.grid_signals(family, bars, grid)` + `backtest.signal_grid(bars, entries, exits)`.
* vectorbt    its indicator, run once over the grid's windows (`param_product=True` where it has several
              parameters), numpy comparisons of its outputs for the thresholds (broadcast over the grid: vectorbt
              at its fastest), flags shifted one bar, then `Portfolio.from_signals(close, entries, exits,
              price=open, size=np.inf, fees=0.001, direction='longonly')` (next-open fills, all in, long only,
              as fancy_lib), final value and trade count.

The families vectorbt 1.2's indicators can express, and the options that match fancy_lib's definitions:

* A ma_trend       `vbt.MA.run(close, window=...)` (simple rolling mean, `ewm=False`); long while MA(fast) > MA(slow).
                   fancy_lib compares compensated window sums with a tie tolerance, vectorbt running-sum means:
                   they can only part on a near-tie of the two averages.
* D rsi_reversion  `vbt.RSI.run(close, window=2n-1, ewm=True, adjust=False)`: an EMA of span 2n-1 has
                   alpha = 1/n, Wilder's smoothing. No option matches exactly: vectorbt's only smoothings are an
                   SMA or an EMA by span, and its EMA is defined from bar 2n-1 (min_periods = window) where
                   fancy_lib's RSI is defined from bar n, so fancy_lib's first n-1 RSI values are NaN in vectorbt
                   and flags can differ there (counted below). After the warm-up the values agree to ~1e-15
                   (pandas derives alpha = 1/n through com = (1 - alpha) / alpha, which for some n is off in the last bit).
* E bollinger      `vbt.BBANDS.run(close, window=n, alpha=k, ewm=False, ddof=0, param_product=True)`: entry
                   close < lower, exit close >= middle (population sigma, as fancy_lib; vectorbt's middle band is
                   a running-sum mean, pandas' a compensated one, so a band could part in the last bit).
* F volatility     `vbt.ATR.run(high, low, close, window=2n-1, ewm=True, adjust=False)`: Wilder's ATR as for the
                   RSI, and with the same longer warm-up (defined from bar 2n-2 instead of n-1; the true range is
                   the same to the bit); entry close - previous close > k * ATR of the previous bar; exit when no
                   entry in the last `hold` bars (`vbt.generic.nb.rolling_max_nb(entries, hold, minp=1) == 0`).
* G macd           `vbt.MACD.run(close, fast_window, slow_window, signal_window, macd_ewm=True, signal_ewm=True,
                   adjust=False, param_product=True)`: long while macd > signal, flat when macd < signal (the
                   same EMA recursion and warm-up as pandas' `ewm(span, adjust=False, min_periods=span)`).
* J regime_trend   `vbt.MA.run` for the fast, slow and regime windows: MA(fast) > MA(slow) and close > MA(regime_n).

Not compared: B, C, H, I, K (vectorbt has no Donchian, momentum, volume-surge, candlestick or spread indicator),
O (`vbt.STOCH` gives NaN or inf on a flat range where fancy_lib's %K is 50, and O's entry and exit can fall on
one bar, which the two engines resolve differently), P (vectorbt has no ADX).

Agreement, per family (the last column of the table):

* flags        vectorbt's entries and exits against `grid_signals`, bar by bar; columns that differ are counted
               again when every difference lies inside vectorbt's longer warm-up (D: bars < 2n-1; F: entries
               < 2n-1, exits < 2n-1 + hold).
* equity+count final equity (rtol 1e-9) and number of trades of every column, fancy_lib's table against
               vectorbt's `final_value()` and `trades.count()`.
* fancy_lib on vectorbt's flags   (only where flags differ) `signal_grid` run on vectorbt's own flags and held to
               the same test: when it agrees everywhere, the engines agree and a difference above is the
               indicators' alone.
* trade bars   the entry and exit bar of every trade (an open trade: its entry), fancy_lib's `GridResult.rerun`
               of each column against vectorbt's trade records; `--trade-columns N` checks N columns spread over
               the grid instead of all.

Timings are the best of `--repeats` calls after one warm-up call of each engine on the same grid (numba
compiles or loads its cache then); the checks above run after the timing.

    .venv/bin/pip install -e '.[bench]'; .venv/bin/python bench/bench_families_vectorbt_native.py [--repeats 3]
"""
from __future__ import annotations
import argparse, os, platform
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from common import best_of, configured_in_sample
from fancy_lib.backtest import signal_grid
from fancy_lib.strategies import FAMILIES, grid_signals

FEE, INIT_CASH = 0.001, 100_000.0


def _product(*axes: np.ndarray) -> np.ndarray:
    "Broadcast arrays of shape (bars, ...) over the grid's axes and flatten them in itertools.product order."
    shape = np.broadcast_shapes(*(a.shape for a in axes))
    return [np.broadcast_to(a, shape).reshape(shape[0], -1) for a in axes]


def _lagged(a: np.ndarray) -> np.ndarray:
    "The value known one bar earlier (NaN at the first bar), along axis 0."
    out = np.empty_like(a, dtype=float); out[0] = np.nan; out[1:] = a[:-1]
    return out


def vbt_ma_trend(vbt, bars, g):
    wins = sorted(set(g["fast"]) | set(g["slow"]))
    ma = vbt.MA.run(bars["close"], window=wins).ma.to_numpy()
    at = {w: i for i, w in enumerate(wins)}
    fast, slow = ma[:, [at[w] for w in g["fast"]]], ma[:, [at[w] for w in g["slow"]]]
    above = (fast[:, :, None] > slow[:, None, :]).reshape(len(bars), -1)
    return above, ~above


def vbt_rsi_reversion(vbt, bars, g):
    rsi = vbt.RSI.run(bars["close"], window=[2 * n - 1 for n in g["n"]], ewm=True, adjust=False).rsi.to_numpy()
    lower, upper = np.asarray(g["lower"], float), np.asarray(g["upper"], float)
    r = rsi[:, :, None, None]
    return _product(r < lower[None, None, :, None], r > upper[None, None, None, :])


def vbt_bollinger_reversion(vbt, bars, g):
    bb = vbt.BBANDS.run(bars["close"], window=g["n"], alpha=g["k"], ewm=False, ddof=0, param_product=True)
    c = bars["close"].to_numpy()[:, None]
    return c < bb.lower.to_numpy(), c >= bb.middle.to_numpy(), _levels(bb.lower.columns, ("bb_window", "bb_alpha"))


def vbt_volatility_breakout(vbt, bars, g):
    atr = vbt.ATR.run(bars["high"], bars["low"], bars["close"], window=[2 * n - 1 for n in g["n"]],
                      ewm=True, adjust=False).atr.to_numpy()
    c = bars["close"].to_numpy()
    k = np.asarray(g["k"], float)
    entries = ((c - _lagged(c))[:, None, None] > k[None, None, :] * _lagged(atr)[:, :, None]).reshape(len(c), -1)
    held = entries.astype(float)
    exits = np.stack([vbt.generic.nb.rolling_max_nb(held, h, minp=1) == 0 for h in g["hold"]], axis=-1)
    return _product(entries[:, :, None], exits)


def vbt_macd(vbt, bars, g):
    m = vbt.MACD.run(bars["close"], fast_window=g["fast"], slow_window=g["slow"], signal_window=g["signal"],
                     macd_ewm=True, signal_ewm=True, adjust=False, param_product=True)
    line, sig = m.macd.to_numpy(), m.signal.to_numpy()
    return line > sig, line < sig, _levels(m.macd.columns, ("macd_fast_window", "macd_slow_window", "macd_signal_window"))


def vbt_regime_trend(vbt, bars, g):
    wins = sorted(set(g["fast"]) | set(g["slow"]) | set(g["regime_n"]))
    ma = vbt.MA.run(bars["close"], window=wins).ma.to_numpy()
    at = {w: i for i, w in enumerate(wins)}
    pick = lambda ws: ma[:, [at[w] for w in ws]]
    trend = (pick(g["fast"])[:, :, None] > pick(g["slow"])[:, None, :])[:, :, :, None]
    regime = (bars["close"].to_numpy()[:, None] > pick(g["regime_n"]))[:, None, None, :]
    return _product(trend & regime, ~trend | ~regime)


def _levels(cols: pd.MultiIndex, levels) -> list:
    "vectorbt's columns as tuples of the grid's parameters (its param_product order, checked against the grid's)."
    return list(zip(*(cols.get_level_values(l) for l in levels)))


@dataclass(frozen=True)
class Case:
    "One family's large grid and how vectorbt computes its flags with its own indicators."
    letter: str
    grid: dict
    vbt_signals: Callable        # (vbt, bars, grid) -> (entries, exits) as (bars, combos) bool arrays, unshifted[, columns]
    warmup: Callable | None = None   # params -> (entries, exits): bars before which vectorbt's later-starting indicator may change them


CASES = (
    Case("A", dict(fast=list(range(2, 51)), slow=list(range(55, 251, 5))), vbt_ma_trend),
    Case("D", dict(n=list(range(2, 101, 2)), lower=list(range(10, 30, 2)), upper=list(range(60, 85, 5))),
         vbt_rsi_reversion, lambda p: (2 * p["n"] - 1, 2 * p["n"] - 1)),
    Case("E", dict(n=list(range(5, 201, 2)), k=[0.5 + 0.25 * i for i in range(15)]), vbt_bollinger_reversion),
    Case("F", dict(n=list(range(5, 101, 5)), k=[0.5 + 0.25 * i for i in range(9)], hold=[1, 2, 3, 4, 6, 8, 12, 16, 24, 48]),
         vbt_volatility_breakout, lambda p: (2 * p["n"] - 1, 2 * p["n"] - 1 + p["hold"])),
    Case("G", dict(fast=list(range(2, 21, 2)), slow=list(range(22, 103, 8)), signal=list(range(3, 31, 3))), vbt_macd),
    Case("J", dict(fast=list(range(5, 50, 5)), slow=list(range(50, 150, 10)), regime_n=list(range(150, 401, 25))),
         vbt_regime_trend),
)


def _next_bar(a: np.ndarray) -> np.ndarray:
    "Flags known at bar t's close, acted on at t+1's open."
    out = np.zeros_like(a); out[1:] = a[:-1]
    return out


def _last_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    "Per column, the last bar at which two (bars, combos) flag arrays differ; -1 where they never do."
    d = a != b
    return np.where(d.any(axis=0), len(a) - 1 - d[::-1].argmax(axis=0), -1)


def _flag_agreement(case: Case, ours: tuple, theirs: tuple, cols: pd.MultiIndex) -> str:
    "How many columns have the very same flags; of the others, how many differ only inside vectorbt's longer warm-up."
    last = [_last_difference(a, b) for a, b in zip(ours, theirs)]          # entries, exits
    bad = np.flatnonzero((last[0] >= 0) | (last[1] >= 0))
    text = f"flags {len(cols) - len(bad)}/{len(cols)} identical"
    if len(bad) and case.warmup is not None:
        names = list(cols.names)
        inside = sum(all(l[j] < w for l, w in zip(last, case.warmup(dict(zip(names, cols[j]))))) for j in bad)
        text += f" ({inside} of the {len(bad)} others differ only inside vectorbt's warm-up)"
    return text


def _same_results(table: pd.DataFrame, final_value: np.ndarray, n_trades: np.ndarray) -> np.ndarray:
    "Per column: the same final equity (rtol 1e-9) and the same number of trades in fancy_lib's table as in vectorbt's."
    return (np.isclose(table["final_equity"].to_numpy(), final_value, rtol=1e-9, atol=1e-6)
            & (table["n_trades"].to_numpy().astype(int) == n_trades.astype(int)))


def _vbt_trade_bars(pf, n_cols: int) -> list:
    "vectorbt's trades, per column, as (entry bar, exit bar or None while open)."
    r = pf.trades.values
    r = r[np.lexsort((r["entry_idx"], r["col"]))]
    cuts = np.searchsorted(r["col"], np.arange(1, n_cols))
    return [[(int(e), None if s == 0 else int(x)) for e, x, s in zip(c["entry_idx"], c["exit_idx"], c["status"])]
            for c in np.split(r, cuts)]


def _fancy_trade_bars(grid_result, label, index: pd.Index) -> list:
    "fancy_lib's trades of one grid column, re-run in full through `backtest`, as (entry bar, exit bar or None while open)."
    t = grid_result.rerun(*label).trades
    e, x = index.get_indexer(t["entry_time"]), index.get_indexer(t["exit_time"])
    return [(int(a), None if o else int(b)) for a, b, o in zip(e, x, t["is_open"])]


def run_case(vbt, case: Case, repeats: int, trade_columns: int | None) -> str:
    f = FAMILIES[case.letter]
    cfg, ins, cut = configured_in_sample(case.letter)

    def fancy():
        e, x = grid_signals(f, ins, case.grid, others=cut)
        return signal_grid(ins, e, x, fee=FEE, init_cash=INIT_CASH)

    def vector():
        e, x, *vcols = case.vbt_signals(vbt, ins, case.grid)
        pf = vbt.Portfolio.from_signals(ins["close"], _next_bar(e), _next_bar(x), price=ins["open"], size=np.inf,
                                        fees=FEE, init_cash=INIT_CASH, direction="longonly")
        return pf, (e, x), vcols, pf.final_value().to_numpy(), pf.trades.count().to_numpy()

    g = fancy(); vector()                                                   # warm-up: compile or load caches
    t_f, g = best_of(fancy, repeats)
    t_v, (pf, flags, vcols, fv, nt) = best_of(vector, repeats)
    cols = g.table.index
    if len(cols) != int(np.prod([len(v) for v in case.grid.values()])) or (vcols and vcols[0] != list(cols)):
        raise SystemExit(f"{f.label}: vectorbt's columns are not the grid's {len(cols)} combinations in the same order: "
                         f"choose values that all satisfy {f.rule or 'the family rule'}")
    ours = tuple(s.to_numpy() for s in g.signals)
    agree = [_flag_agreement(case, ours, flags, cols)]
    same = _same_results(g.table, fv, nt)
    agree.append(f"equity+count {int(same.sum())}/{len(cols)}")
    if not all(np.array_equal(a, b) for a, b in zip(ours, flags)):    # then: is it the flags alone, or the engines too?
        frame = lambda a: pd.DataFrame(a, index=ins.index, columns=cols)
        on_theirs = signal_grid(ins, frame(flags[0]), frame(flags[1]), fee=FEE, init_cash=INIT_CASH).table
        agree.append(f"fancy_lib on vectorbt's flags {int(_same_results(on_theirs, fv, nt).sum())}/{len(cols)}")
    pick = np.arange(len(cols)) if trade_columns is None or trade_columns >= len(cols) else \
        np.unique(np.linspace(0, len(cols) - 1, trade_columns).astype(int))
    theirs = _vbt_trade_bars(pf, len(cols))
    same_bars = sum(_fancy_trade_bars(g, cols[j], ins.index) == theirs[j] for j in pick)
    agree.append(f"trade bars {same_bars}/{len(pick)} columns ({int(nt[pick].sum())} trades)")
    return (f"{case.letter} {f.name:20s} {len(cols):6d} {len(ins):6d} {t_f:11.4f} {t_v:10.4f} {t_v / t_f:6.1f}x  "
            + "; ".join(agree))


def main():
    import vectorbt as vbt
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--families", default="".join(c.letter for c in CASES), help="letters to run, e.g. DG")
    ap.add_argument("--trade-columns", type=int, default=None,
                    help="compare the trade bars of this many columns per family (default: all)")
    a = ap.parse_args()
    print(f"bench_families_vectorbt_native: {platform.machine()}, {os.cpu_count()} cores, vectorbt {vbt.__version__}, "
          f"fee {FEE}, next-open fills")
    print(f"{'family':22s} {'combos':>6s} {'bars':>6s} {'fancy e2e s':>11s} {'vbt e2e s':>10s} {'ratio':>7s}  agreement")
    for case in CASES:
        if case.letter in a.families.upper():
            print(run_case(vbt, case, a.repeats, a.trade_columns), flush=True)


if __name__ == "__main__":
    main()
