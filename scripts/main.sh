#!/usr/bin/env bash
# The main job on the bundled defaults: run the reference research notebook through papermill and
# render its HTML report. Prints the run folder and the report path.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/fancy run reference_baseline "$@"
