#!/usr/bin/env bash
# The Python benchmarks: a release build of the module in .tools/py; orjson, msgpack and
# msgspec from PyPI; the local S3 server (SeaweedFS) for the checkpoint rows. Prints the
# tables for BENCHMARKS.md on stdout:
#   snapshot-py/tests/bench.py        one list of 20,000 user maps against six peers
#   snapshot-py/tests/bench_calls.py  per-call speed, numpy arrays, background checkpoints
# Arguments go to bench_calls.py (--rounds N, --array-mib M, --checkpoint-gib G).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
SNAPSHOT_PY_RELEASE=1 SNAPSHOT_PY_BUILD_ONLY=1 bash scripts/test-python.sh >&2
.tools/py/bin/python -m pip install -q --disable-pip-version-check \
  "orjson>=3.9" "msgpack>=1.0" "msgspec>=0.18" >&2
cd snapshot-py/tests
../../.tools/py/bin/python bench.py --rounds 21
echo
../../.tools/py/bin/python bench_calls.py "$@"
# The S3 row last, with the server running only for it.
cd "$root"
state=$(mktemp -d)
export SNAPSHOT_S3_DEV_STATE="$state" SNAPSHOT_S3_DEV_PORT=$((30000 + RANDOM % 8000))
eval "$(bash scripts/s3-dev.sh start)"
trap 'bash "$root/scripts/s3-dev.sh" stop >/dev/null 2>&1 || true; rm -rf "$state"' EXIT
cd snapshot-py/tests
../../.tools/py/bin/python bench_calls.py --s3 "$@"
