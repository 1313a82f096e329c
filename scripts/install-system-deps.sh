#!/bin/sh
# Debian packages the project needs beyond Python: Graphviz `dot` (the chain map is drawn
# server-side as SVG) and chromium's WebDriver (tests/test_browser_workbench.py drives Debian's
# chromium with selenium; scripts/install-browser.sh installs chromium itself). Idempotent:
# installs only what is missing; uses sudo when not root; says so and goes on when it cannot.
set -eu

missing=""
command -v dot >/dev/null 2>&1 || missing="$missing graphviz"
[ -x /usr/bin/chromedriver ] || missing="$missing chromium-driver"
[ -n "$missing" ] || exit 0

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "install-system-deps: need root or sudo to install:$missing (the chain map falls back to lists)" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-system-deps: no apt-get; install$missing yourself (the chain map falls back to lists)" >&2
    exit 0
fi
echo "install-system-deps: installing$missing" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
