#!/usr/bin/env bash
# The whole test suite: what a new user runs, and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

# The docs agree with the code where a script can tell (versions, nothing built called
# planned).
bash scripts/check-docs.sh

# The codec must build without std for an embedded target.
if command -v rustup >/dev/null 2>&1; then
  rustup target add thumbv7em-none-eabi >/dev/null
fi
cargo build -p snapshot-codec --no-default-features --target thumbv7em-none-eabi
cargo build -p snapshot-codec --no-default-features --features serde,chrono --target thumbv7em-none-eabi

# The web page (`snapshot ui`) is tested in a headless chromium: installed if missing.
bash scripts/install-chromium.sh
cargo test --workspace --all-features

# The Python package (snapshot-py): built as a wheel with maturin, installed into a
# virtual environment under .tools/py, its pytest suite run (S3 server included).
bash scripts/test-python.sh

# The S3 suite through testcontainers, against the test server in a locally built image
# (a Docker engine is started, as root, if none runs; stopped again afterwards).
bash scripts/docker-test-image.sh start >/dev/null
trap 'bash scripts/docker-test-image.sh stop' EXIT
cargo test -p snapshot-store-s3 --test containers -- --ignored
bash scripts/docker-test-image.sh stop
trap - EXIT

# The facade without the s3 feature: s3:// URLs must name the missing feature.
cargo test -p snapshot-state --no-default-features --features fs --test open

# The development S3 server (scripts/s3-dev.sh) starts, serves the CLI, and stops.
dev_port=$((21000 + RANDOM % 8000))
export SNAPSHOT_S3_DEV_PORT=$dev_port
trap 'bash scripts/s3-dev.sh stop >/dev/null 2>&1 || true' EXIT
eval "$(bash scripts/s3-dev.sh start)"
echo '{"dev": true}' | cargo run -q -p snapshot-cli --all-features -- put s3://snapshots/s3-dev-check - >/dev/null
cargo run -q -p snapshot-cli --all-features -- show s3://snapshots/s3-dev-check --latest | grep -q '"dev": true'
bash scripts/s3-dev.sh stop
bash scripts/s3-dev.sh status >/dev/null && { echo "s3-dev.sh did not stop the server" >&2; exit 1; }
echo "scripts/s3-dev.sh: start, put, show, stop: ok"
