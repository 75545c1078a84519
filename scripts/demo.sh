#!/usr/bin/env bash
# The main job: set up from nothing and run the demo on the embedded defaults
# (no database server or broker needed). Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
echo "demo: a line chat server on 127.0.0.1:8701; talk to it from another terminal with"
echo "      .venv/bin/python examples/line_client.py --port 8701"
exec .venv/bin/python examples/chat_server.py --port 8701 "$@"
