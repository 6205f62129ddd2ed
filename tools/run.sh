#!/usr/bin/env bash
# One entry point for the README quick start and CI.
#   bash tools/run.sh demo [ARGS...]   install into .venv (if needed) and run `slitwise demo`
#   bash tools/run.sh test [ARGS...]   install into .venv (if needed) and run the test suite
# The virtual environment is created with Python >= 3.11 and reused; it is reinstalled only
# when pyproject.toml changes.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
venv="${SLITWISE_VENV:-$here/.venv}"

pick_python() {
    for py in python3.11 python3.12 python3.13 python3; do
        if command -v "$py" >/dev/null 2>&1 &&
            "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
            echo "$py"; return 0
        fi
    done
    echo "slitwise: Python >= 3.11 not found" >&2; return 1
}

ensure_env() {
    if [ ! -x "$venv/bin/python" ]; then
        "$(pick_python)" -m venv "$venv"
    fi
    local stamp="$venv/.slitwise-install-stamp"
    local want
    want="$(sha256sum pyproject.toml | cut -c1-16)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        "$venv/bin/python" -m pip install --quiet --upgrade pip
        "$venv/bin/python" -m pip install --quiet -e ".[test]"
        echo "$want" > "$stamp"
    fi
}

# The inspection app's end-to-end tests drive Debian's Chromium with Playwright (no browser
# download). Install it when we can (root with apt); otherwise those tests skip with a reason.
ensure_browser() {
    if [ -x /usr/bin/chromium ]; then return 0; fi
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing Debian chromium for the browser tests" >&2
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            chromium chromium-driver >/dev/null) ||
            echo "warning: could not install chromium; browser tests will be skipped" >&2
    else
        echo "warning: /usr/bin/chromium missing; browser tests will be skipped" >&2
    fi
}

cmd="${1:-}"; shift || true
case "$cmd" in
    demo)
        ensure_env
        exec "$venv/bin/slitwise" demo "$@"
        ;;
    test)
        ensure_env
        ensure_browser
        # pytest exits 5 when it collects nothing; that must fail too, and it does (non-zero).
        exec "$venv/bin/python" -m pytest "$@"
        ;;
    *)
        echo "usage: bash tools/run.sh demo|test [ARGS...]" >&2
        exit 2
        ;;
esac
