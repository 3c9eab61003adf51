#!/usr/bin/env bash
# The Python package: a virtual environment under .tools/py with maturin, pytest,
# hypothesis (and numpy, xxhash, mypy for the tests) from PyPI; the module built as a wheel
# with maturin, installed with pip, and the pytest suite of snapshot-py/tests run
# against it (including the S3 test server it starts itself).
#
#   bash scripts/test-python.sh            # debug build: what CI runs
#   SNAPSHOT_PY_RELEASE=1 bash scripts/test-python.sh   # release build
#   SNAPSHOT_PY_BUILD_ONLY=1 ...                         # build and install, no tests
set -euo pipefail
cd "$(dirname "$0")/.."

venv=".tools/py"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
  "maturin>=1.7,<2" "pytest>=8" "hypothesis>=6.100" "numpy>=1.26" "xxhash>=3" "mypy>=1.10"

wheels=".tools/py-wheels"
rm -rf "$wheels"
profile=()
if [ "${SNAPSHOT_PY_RELEASE:-}" = 1 ]; then profile=(--release); fi
"$venv/bin/maturin" build --quiet "${profile[@]}" -m snapshot-py/Cargo.toml \
  -i "$venv/bin/python" --out "$wheels"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$wheels"/*.whl

if [ "${SNAPSHOT_PY_BUILD_ONLY:-}" = 1 ]; then exit 0; fi

# Run from the tests' directory so `import snapshot_state` is the installed wheel, not the
# source tree.
cd snapshot-py/tests
../../"$venv/bin/python" -c "import snapshot_state, sys; print('snapshot_state from', snapshot_state.__file__, file=sys.stderr)"
exec ../../"$venv/bin/python" -m pytest -q -p no:cacheprovider .
