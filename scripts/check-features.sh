#!/usr/bin/env bash
# The facade's Cargo features mean what they say: it builds without warnings in every
# combination that matters, and the local-disk backend alone does not bring in libzstd.
set -euo pipefail
cd "$(dirname "$0")/.."

for features in "fs" "s3" "fs,zstd" "fs,lz4" "legacy" "" "fs,s3,zstd,lz4,chrono,legacy"; do
  echo "snapshot --no-default-features --features \"$features\""
  cargo clippy -q -p snapshot --no-default-features --features "$features" -- -D warnings
done
echo "snapshot (default features)"
cargo clippy -q -p snapshot -- -D warnings

check_tree() { # features, pattern, must (absent|present)
  local tree
  tree=$(cargo tree -p snapshot --no-default-features --features "$1" -e features)
  if grep -qi "$2" <<<"$tree"; then found=present; else found=absent; fi
  if [ "$found" != "$3" ]; then
    echo "cargo tree -e features for --features \"$1\": $2 is $found, expected $3" >&2
    exit 1
  fi
  echo "features \"$1\": $2 $found (as expected)"
}
check_tree fs zstd absent
check_tree s3 zstd absent
check_tree fs,zstd zstd present
check_tree fs lz4_flex absent
check_tree fs,lz4 lz4_flex present
check_tree fs object_store absent
check_tree s3 object_store present
check_tree fs miniz_oxide absent
check_tree legacy miniz_oxide present
