#!/usr/bin/env bash
# The main job: set up from nothing and run the demo lab node on the embedded
# defaults (SQLite, dripline over TCP, UDP pull socket; no server to install).
# Stop it with Ctrl-C. Extra arguments go to `flubber serve`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
exec flubber serve examples/lab.yaml "$@"
