#!/bin/sh
# Headless Debian chromium for the browser tests (tests/test_browser_*.py), and a CJK font so
# that screenshots of Chinese labels are legible. Installs only what is missing; uses sudo when
# not root. CI runs this as root on a fresh Debian machine with apt reachable.
set -eu

missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"
if ! command -v fc-list >/dev/null 2>&1 || [ -z "$(fc-list :lang=zh 2>/dev/null)" ]; then
    missing="$missing fonts-wqy-zenhei"
fi
[ -n "$missing" ] || exit 0

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "install-browser: need root or sudo to install:$missing (browser tests will be skipped)" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: no apt-get; install$missing yourself (browser tests will be skipped)" >&2
    exit 0
fi
echo "install-browser: installing$missing" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
