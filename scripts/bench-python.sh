#!/usr/bin/env bash
# The Python benchmark (snapshot-py/tests/bench.py): a release build of the module in
# .tools/py, orjson and msgpack from PyPI, and the table for BENCHMARKS.md on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
SNAPSHOT_PY_RELEASE=1 SNAPSHOT_PY_BUILD_ONLY=1 bash scripts/test-python.sh >&2
.tools/py/bin/python -m pip install -q --disable-pip-version-check "orjson>=3.9" "msgpack>=1.0" >&2
cd snapshot-py/tests
exec ../../.tools/py/bin/python bench.py "$@"
