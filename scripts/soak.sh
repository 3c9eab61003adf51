#!/usr/bin/env bash
# The long concurrent soaks (writers, a pruner and readers at once), on disk and on the
# S3 test server. The default test run keeps them at 5 s; this runs them for longer.
# Usage: bash scripts/soak.sh [SECONDS]   (default 600)
set -euo pipefail
cd "$(dirname "$0")/.."
export SNAPSHOT_SOAK_SECS="${1:-600}"
cargo test --release -p snapshot-store-fs --test store soak -- --nocapture
cargo test --release -p snapshot-store-s3 --test servers
