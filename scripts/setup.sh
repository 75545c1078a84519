#!/usr/bin/env bash
# Sets up everything flubber needs on a Debian/Ubuntu machine with Python 3:
# the system packages mysqlclient builds against (when missing) and a virtual
# environment in .venv with flubber and all its extras installed in editable mode.
# Safe to run again: it only does what is still missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}

need_apt=()
dpkg -s libmariadb-dev >/dev/null 2>&1 || need_apt+=(libmariadb-dev)
dpkg -s pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)   # the TLS tests make their certificates with it
"$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "setup: installing system packages: ${need_apt[*]}"
    $SUDO apt-get install -y -q "${need_apt[@]}" >/dev/null 2>&1 || {
        $SUDO apt-get update -q >/dev/null
        $SUDO apt-get install -y -q "${need_apt[@]}"
    }
fi

# The browser tests (tests/web/test_browser.py) drive Debian's headless Chromium through its
# chromedriver; without them those tests skip, loudly. FLUBBER_NO_BROWSER=1 leaves them out.
browser_apt=()
dpkg -s chromium >/dev/null 2>&1 || browser_apt+=(chromium)
dpkg -s chromium-driver >/dev/null 2>&1 || browser_apt+=(chromium-driver)
if [ ${#browser_apt[@]} -gt 0 ] && [ -z "${FLUBBER_NO_BROWSER:-}" ]; then
    echo "setup: installing the test browser: ${browser_apt[*]}"
    { $SUDO apt-get install -y -q "${browser_apt[@]}" >/dev/null 2>&1 || {
        $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q "${browser_apt[@]}" >/dev/null; }; } ||
        echo "setup: could not install ${browser_apt[*]}; the browser tests will be skipped"
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.flubber-setup-stamp
if [ ! -f "$stamp" ] || [ setup.py -nt "$stamp" ]; then
    echo "setup: installing flubber and its extras into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[all]'
    touch "$stamp"
fi
