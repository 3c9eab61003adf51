#!/usr/bin/env bash
# Runs every fuzz target for the given number of seconds each (default 60) and fails if
# any finds a crash (saved under fuzz/artifacts/<target>/). Inputs up to 64 KiB, enough
# for the committed memory bombs (a list of 10^9 nulls in 31 KB); the targets decode
# under a 256 MiB memory budget, and any input that takes the process past 1.5 GB of RSS
# (or one allocation past it) fails the run. Installs cargo-fuzz if
# missing; needs the nightly toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"

rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

cd fuzz
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for target in $(cargo +nightly fuzz list); do
  mkdir -p "corpus/$target"
  # Work on a copy so the committed seeds stay as they are.
  work="$(mktemp -d)"
  cp -r "corpus/$target"/. "$work"/
  echo "== fuzzing $target for ${seconds}s"
  if ! cargo +nightly fuzz run "$target" "$work" -- \
      -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=1536 -timeout=30 >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz target $target failed; the input is in fuzz/artifacts/$target" >&2
    exit 1
  fi
  grep -E "^Done [0-9]+ runs" "$log" || true
  rm -rf "$work"
done
