#!/usr/bin/env bash
# The whole test suite: what a new user runs, and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

# The codec must build without std for an embedded target.
if command -v rustup >/dev/null 2>&1; then
  rustup target add thumbv7em-none-eabi >/dev/null
fi
cargo build -p snapshot-codec --no-default-features --target thumbv7em-none-eabi
cargo build -p snapshot-codec --no-default-features --features serde,chrono --target thumbv7em-none-eabi

cargo test --workspace --all-features

# The facade without the s3 feature: s3:// URLs must name the missing feature.
cargo test -p snapshot --no-default-features --features fs --test open
