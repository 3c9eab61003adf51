#!/usr/bin/env bash
# The facade's Cargo features mean what they say: it builds without warnings in every
# combination that matters, and the local-disk backend alone does not bring in libzstd.
set -euo pipefail
cd "$(dirname "$0")/.."

for features in "fs" "s3" "fs,zstd" "fs,encryption" "legacy" "" "fs,s3,zstd,encryption,chrono,legacy"; do
  echo "snapshot-state --no-default-features --features \"$features\""
  cargo clippy -q -p snapshot-state --no-default-features --features "$features" -- -D warnings
done
echo "snapshot-state (default features)"
cargo clippy -q -p snapshot-state -- -D warnings

check_tree() { # features, pattern, must (absent|present)
  local tree
  tree=$(cargo tree -p snapshot-state --no-default-features --features "$1" -e normal,build,features)
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
check_tree fs lz4_flex present
check_tree fs object_store absent
check_tree s3 object_store present
check_tree fs miniz_oxide absent
check_tree legacy miniz_oxide present
check_tree fs chacha20poly1305 absent
check_tree fs,encryption chacha20poly1305 present

# snapshot-store alone (no features; dev-dependencies left out) switches on neither codec
# encryption nor tokio's macros/time: those belong to its `encryption` and `conformance`
# features.
cargo clippy -q -p snapshot-store --lib -- -D warnings
cargo clippy -q -p snapshot-store --lib --features encryption -- -D warnings
store_tree=$(cargo tree -p snapshot-store -e normal,build,features)
for pattern in chacha20poly1305 'snapshot-codec feature "encryption"' 'snapshot-codec feature "zstd"' \
  'tokio feature "macros"' 'tokio feature "time"'; do
  if grep -q "$pattern" <<<"$store_tree"; then
    echo "snapshot-store without features enables $pattern" >&2
    exit 1
  fi
  echo "snapshot-store without features: $pattern absent (as expected)"
done

# The default compression is the same whichever features the build has (LZ4 for the
# manager, none for the codec's own options): the same test under different feature sets.
for features in "" "zstd" "fs,zstd,encryption,legacy,s3"; do
  echo "defaults under --features \"$features\""
  cargo test -q -p snapshot-state --no-default-features --features "$features" --test defaults
done
