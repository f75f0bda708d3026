#!/usr/bin/env bash
# System packages the tests use: Debian's chromium (the offline-report browser test) and Debian's
# postgresql (the store tests start a real PostgreSQL server of their own; nothing is left running).
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v runuser >/dev/null 2>&1 || need+=(util-linux)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's ${need[*]} (browser test of the reports; PostgreSQL store tests)"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  # the package starts a cluster of its own on port 5432; the tests start theirs, so stop it
  if [[ " ${need[*]} " == *" postgresql "* ]] && command -v pg_ctlcluster >/dev/null 2>&1; then
    for c in $(pg_lsclusters -h 2>/dev/null | awk '{print $1"/"$2}'); do pg_ctlcluster ${c/\// } stop >/dev/null 2>&1 || true; done
  fi
else
  echo "missing system packages: ${need[*]}: install Debian's packages (sudo apt-get install ${need[*]})" >&2; exit 1
fi
