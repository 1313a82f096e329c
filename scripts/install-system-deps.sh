#!/bin/sh
# Debian packages the project needs beyond Python, installed only when missing.
#   serve (default):
#     graphviz         `dot` draws the chain map as SVG on the server
#     fonts-wqy-zenhei a CJK font, so that dot measures and draws Chinese labels
#   test (adds):
#     chromium         headless browser for tests/test_browser_*.py
#     chromium-driver  WebDriver for the browser tests (selenium)
#     libowlapi-java   the OWL API, whose OWL2RLProfile checks the ontology (tests/test_owl_profile.py)
#     default-jdk-headless  javac and java for that checker, when no JDK is installed
#     virtuoso-opensource   OpenLink Virtuoso, the second real triple store `chainkg push` is tested on (tests/test_push.py)
# Usage: install-system-deps.sh [serve|test]. Idempotent; uses sudo when not root; CI runs it as
# root on a fresh Debian machine.
set -eu
purpose="${1:-serve}"

missing=""
command -v dot >/dev/null 2>&1 || missing="$missing graphviz"
if [ "$purpose" = "test" ]; then
    [ -x /usr/bin/chromium ] || missing="$missing chromium"
    [ -x /usr/bin/chromedriver ] || missing="$missing chromium-driver"
    ls /usr/share/java/owlapi-distribution*.jar >/dev/null 2>&1 || missing="$missing libowlapi-java"
    command -v javac >/dev/null 2>&1 || missing="$missing default-jdk-headless"
    [ -x /usr/bin/virtuoso-t ] || missing="$missing virtuoso-opensource"
fi
if ! command -v fc-list >/dev/null 2>&1 || [ -z "$(fc-list :lang=zh 2>/dev/null)" ]; then
    missing="$missing fonts-wqy-zenhei"
fi
[ -n "$missing" ] || exit 0

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "install-system-deps: need root or sudo to install:$missing" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-system-deps: no apt-get; install$missing yourself" >&2
    exit 0
fi
echo "install-system-deps: installing$missing" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
