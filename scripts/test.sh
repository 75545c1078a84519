#!/usr/bin/env bash
# The whole check: set up (system packages, .venv), start the local services,
# run the test suite and build the Sphinx docs with warnings as errors.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/io -x`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/services.sh

status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "test: pytest collected no tests"
fi
.venv/bin/python -m sphinx -W --keep-going -q -b html docs docs/_build/html || status=$((status ? status : 1))
[ "$status" -eq 0 ] && echo "test: tests and docs OK"
exit "$status"
