#!/usr/bin/env bash
# Developers' laptops: the crates that build without a C cross toolchain are checked
# (clippy, warnings denied) for macOS on Apple silicon and for Windows (GNU ABI).
# Nothing is run for those targets here; docs/backends.md says per OS what the disk
# store guarantees. Not checked: zstd (libzstd is C), s3 (ring is C and assembly), and
# so the CLI and the Python package, which need both.
set -euo pipefail
cd "$(dirname "$0")/.."

targets="aarch64-apple-darwin x86_64-pc-windows-gnu"
if command -v rustup >/dev/null 2>&1; then
  # shellcheck disable=SC2086
  rustup target add $targets >/dev/null
fi
for target in $targets; do
  echo "== $target"
  cargo clippy -q --target "$target" -p snapshot-codec --no-default-features \
    --features std,serde,lz4,chrono,legacy,encryption -- -D warnings
  cargo clippy -q --target "$target" -p snapshot-store --features encryption -- -D warnings
  cargo clippy -q --target "$target" -p snapshot-store-fs -- -D warnings
  cargo clippy -q --target "$target" -p snapshot-state --no-default-features \
    --features fs,encryption,chrono,legacy -- -D warnings
  echo "snapshot-codec, snapshot-store, snapshot-store-fs, snapshot-state (fs): ok"
done
