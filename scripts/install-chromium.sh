#!/usr/bin/env bash
# Debian's chromium, for the test of `snapshot ui` in a headless browser
# (snapshot-cli/tests/ui.rs fails without one). Nothing to do when a chromium is on the
# PATH or SNAPSHOT_CHROMIUM names one.
set -euo pipefail

if [ -n "${SNAPSHOT_CHROMIUM:-}" ] || command -v chromium >/dev/null 2>&1 \
  || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium.sh: no chromium and no apt-get; install chromium and put it on the PATH, or set SNAPSHOT_CHROMIUM" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  sudo="sudo -n"
fi
echo "installing Debian's chromium (for the web page's test)..." >&2
$sudo apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
command -v chromium >/dev/null
