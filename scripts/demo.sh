#!/usr/bin/env bash
# The main job: set up from nothing and run the demo lab node on the embedded
# defaults (no database server or broker needed). Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
exec .venv/bin/flubber demo "$@"
