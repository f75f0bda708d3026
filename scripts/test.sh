#!/usr/bin/env bash
# Every test: notebooks and library in sync, library notebooks (nbdev-test), system tests (pytest:
# CLI, papermill runs and re-runs, offline report in a real browser). What CI runs.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh dev,image || exit 1
scripts/system-deps.sh || exit 1
export PATH="$PWD/.venv/bin:$PATH" OMP_WAIT_POLICY=PASSIVE
fail=0

echo "== 1. nbs/ is the source of truth: nbdev-export and nbdev-clean must change nothing"
snap() { find fancy_lib nbs -type f \( -name '*.py' -o -name '*.ipynb' \) -not -path '*/.ipynb_checkpoints/*' -print0 | sort -z | xargs -0 sha256sum; }
before=$(snap)
nbdev-export || { echo "nbdev-export failed"; fail=1; }
nbdev-clean || { echo "nbdev-clean failed"; fail=1; }
for nb in nbs/research/*.ipynb; do nbdev-clean --fname "$nb" || fail=1; done
after=$(snap)
if [ "$before" != "$after" ]; then
  echo "FAIL: these files changed under nbdev-export/nbdev-clean (now rewritten; commit them):"
  diff <(echo "$before") <(echo "$after") | grep '^>' | awk '{print "  " $3}'
  fail=1
else
  echo "ok: fancy_lib/ matches nbs/, notebooks are clean"
fi

echo "== 2. library notebooks (nbdev-test)"
nbdev-test --n-workers 2 || fail=1

echo "== 3. system tests (pytest)"
python -m pytest tests "$@"
rc=$?
if [ $rc -eq 5 ]; then echo "FAIL: pytest collected no tests (tests/ missing or all deselected)"; fail=1
elif [ $rc -ne 0 ]; then fail=1; fi

[ $fail -eq 0 ] && echo "ALL CHECKS PASSED" || echo "SOME CHECKS FAILED"
exit $fail
