#!/usr/bin/env bash
# The order-book bench's own environment, .venv-hft: hftbacktest 2.4.4 pins numpy < 2.3 and numba ~= 0.61, which the
# project's .venv (vectorbt needs numpy >= 2.4.6) cannot hold, so the peer and fancy_lib (core only) share this one.
# Usage: bash bench/lob_env.sh && .venv-hft/bin/python bench/bench_lob.py
set -euo pipefail
cd "$(dirname "$0")/.."
py="${PYTHON:-python3.11}"
command -v "$py" >/dev/null 2>&1 || py=python3
[ -x .venv-hft/bin/python ] || "$py" -m venv .venv-hft
.venv-hft/bin/python -m pip install -q --upgrade pip
.venv-hft/bin/python -m pip install -q -e . "hftbacktest==2.4.4"
.venv-hft/bin/python -c "import hftbacktest, numpy, numba, fancy_lib; print('hftbacktest', hftbacktest.__version__ if hasattr(hftbacktest, '__version__') else '2.4.4', 'numpy', numpy.__version__, 'numba', numba.__version__)"
