"""The meta-label models on purged splits: LightGBM with one thread per fit (fancy_lib's setting) against
LightGBM's default threads, in fresh processes, with OMP_WAIT_POLICY unset (OpenMP's default spin-waiting) and
PASSIVE; and the whole OOF pipeline (5 purged folds + the final fit + the summary), in one run.

Data: the bundled BTCUSD 30m bars, all registry features, triple-barrier meta-labels of the MA(10, 40)
crossover's side (an event every 5 bars), PurgedKFold(5), embargo 1 %. Each configuration runs in its own
process (OpenMP reads its settings once, at load), best of `--repeats`. Printed, never asserted.

    .venv/bin/python bench/bench_models.py [--repeats 3] [--rounds 200]
"""
from __future__ import annotations
import argparse, json, os, platform, subprocess, sys, tempfile

CHILD = r"""
import json, sys, time, tempfile
import numpy as np
from fancy_lib.data import load_sample
from fancy_lib.features import compute_features
from fancy_lib.labels import meta_labels, triple_barrier, sample_weights
from fancy_lib.models import train_lgbm, LGBM_PARAMS
threads, rounds, repeats = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
bars = load_sample("BTCUSD_30m").bars
close = bars["close"]
X = compute_features(bars)
side = np.sign(close.rolling(10).mean() - close.rolling(40).mean())
events = close.index[250::5]
events = events[side.loc[events].to_numpy() != 0]
vol = np.log(close).diff().ewm(span=48).std()
lab = triple_barrier(close, events=events, pt=1.0, sl=1.0, target=vol.loc[events], vertical=48, side=side.loc[events])
lab = lab[lab["barrier"] != "open"]
y = (lab["label"] == 1).astype(int)
t1 = lab["t1"]
Xe = X.loc[y.index].assign(side=side.loc[y.index])
w = sample_weights(close, t1)
params = {**LGBM_PARAMS, "num_threads": threads}
best = float("inf")
for r in range(repeats):
    t0 = time.perf_counter()
    res = train_lgbm(Xe, y, t1, sample_weight=w, params=params, num_boost_round=rounds, n_boot=200, out_dir=tempfile.mkdtemp())
    best = min(best, time.perf_counter() - t0)
print(json.dumps({"seconds": best, "samples": int(len(y)), "features": int(Xe.shape[1]), "auc": res.summary.oof_auc}))
"""


def run(threads: int, wait: str | None, rounds: int, repeats: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if wait: env["OMP_WAIT_POLICY"] = wait
    out = subprocess.run([sys.executable, "-c", CHILD, str(threads), str(rounds), str(repeats)], env=env, capture_output=True,
                         text=True, timeout=1800)
    if out.returncode != 0: raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=200)
    a = ap.parse_args()
    print(f"bench_models: {platform.machine()}, {os.cpu_count()} cores; train_lgbm, 5 purged folds + final fit, {a.rounds} rounds, best of {a.repeats}")
    rows = [("1 thread per fit (fancy_lib)", 1, None), ("1 thread, OMP_WAIT_POLICY=PASSIVE", 1, "PASSIVE"),
            ("LightGBM default threads", 0, None), ("default threads, OMP_WAIT_POLICY=PASSIVE", 0, "PASSIVE")]
    base = None
    for label, threads, wait in rows:
        r = run(threads, wait, a.rounds, a.repeats)
        base = base or r["seconds"]
        print(f"  {label:42s} {r['seconds']:7.2f} s  ({r['seconds'] / base:4.1f}x fancy_lib's)  {r['samples']} samples x "
              f"{r['features']} features, OOF AUC {r['auc']:.4f}")


if __name__ == "__main__":
    main()
