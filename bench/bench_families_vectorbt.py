"""The strategy families' in-sample grids: fancy_lib vs vectorbt, on the same flags, in one run.

For every executable family, its configured grid (strategies/<letter>_*.toml) on its in-sample bars:
fancy_lib end to end (flags for the whole grid with `grid_signals` + the compiled `signal_grid`) against
vectorbt 1.2 `Portfolio.from_signals` simulating the *same* flags (shifted one bar, `price=open`, the
next-open fills fancy_lib uses; all-in long-only, fee only, no slippage). vectorbt is given our flags, so
its indicator time is not counted: the ratio is conservative for fancy_lib. Final equity and trade
counts are compared column by column; columns where a bar carries both an entry and an exit flag are
counted apart, because the engines resolve that conflict differently (vectorbt's default ignores both
flags). Timings are
best of a few repeats after one warm-up call with the same layout (vectorbt compiles per layout).

    .venv/bin/pip install -e '.[bench]'; .venv/bin/python bench/bench_families_vectorbt.py [--repeats 3]
"""
from __future__ import annotations
import argparse, os, platform

import numpy as np

from fancy_lib.backtest import signal_grid
from common import best_of, configured_in_sample
from fancy_lib.strategies import FAMILIES, grid_signals

FEE, INIT_CASH = 0.001, 100_000.0




def main():
    import vectorbt as vbt
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    print(f"bench_families_vectorbt: {platform.machine()}, {os.cpu_count()} cores, vectorbt {vbt.__version__}")
    print(f"{'family':24s} {'combos':>6s} {'bars':>6s} {'fancy e2e s':>11s} {'vbt sim s':>10s} {'ratio':>7s}  agreement")
    for letter, f in FAMILIES.items():
        if f.needs.missing: continue
        cfg, ins, cut = configured_in_sample(letter)

        def fancy():
            e, x = grid_signals(f, ins, cfg.grid, others=cut)
            return signal_grid(ins, e, x, fee=FEE, init_cash=INIT_CASH).table
        ent, ext = grid_signals(f, ins, cfg.grid, others=cut)
        e = np.zeros(ent.shape, bool); e[1:] = ent.to_numpy()[:-1]
        x = np.zeros(ext.shape, bool); x[1:] = ext.to_numpy()[:-1]

        def vector():
            pf = vbt.Portfolio.from_signals(ins["close"], e, x, price=ins["open"], size=np.inf, fees=FEE,
                                            init_cash=INIT_CASH, direction="longonly")
            return pf.final_value().to_numpy(), pf.trades.count().to_numpy()
        fancy(); vector()                                              # warm-up: compile, same layout
        t_f, table = best_of(fancy, a.repeats)
        t_v, (fv, nt) = best_of(vector, a.repeats)
        same_eq = np.isclose(table["final_equity"].to_numpy(), fv, rtol=1e-9, atol=1e-6)
        same_n = table["n_trades"].to_numpy().astype(int) == nt.astype(int)
        agree = f"{int((same_eq & same_n).sum())}/{len(fv)} equal (equity 1e-9, trade count)"
        both = (ent & ext).any().to_numpy()
        if both.any():   # an entry and an exit on the same bar: the two engines resolve the conflict differently
            agree += (f"; {int(both.sum())} column(s) have an entry and an exit on one bar, of which "
                      f"{int((~(same_eq & same_n) & both).sum())} disagree and {int((~(same_eq & same_n) & ~both).sum())} others do")
        print(f"{letter} {f.name:22s} {ent.shape[1]:6d} {len(ins):6d} {t_f:11.4f} {t_v:10.4f} {t_v / t_f:6.1f}x  {agree}")


if __name__ == "__main__":
    main()
