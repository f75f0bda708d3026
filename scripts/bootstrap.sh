#!/usr/bin/env bash
# Create the project-local environment .venv (if needed) and install fancy_lib with the given extras.
# Re-installs only when pyproject.toml changed since the last install. Usage: scripts/bootstrap.sh [extras]
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
py="${PYTHON:-python3.11}"
command -v "$py" >/dev/null 2>&1 || py=python3
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $($py --version)"
  "$py" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)-${extras:-core}"
if [ ! -f "$stamp" ]; then
  target="."; [ -n "$extras" ] && target=".[$extras]"
  echo "installing fancy_lib $target into .venv"
  .venv/bin/python -m pip install -q -e "$target"
  touch "$stamp"
fi
