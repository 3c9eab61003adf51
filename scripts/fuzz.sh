#!/usr/bin/env bash
# Runs every fuzz target for the given number of seconds each (default 60).
# Installs cargo-fuzz if missing; needs the nightly toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal

cd fuzz
for target in $(cargo +nightly fuzz list); do
  corpus="corpus/$target"
  mkdir -p "$corpus"
  # Work on a copy so the committed seeds stay as they are.
  work="$(mktemp -d)"
  cp -r "$corpus"/. "$work"/
  echo "== fuzzing $target for ${seconds}s"
  cargo +nightly fuzz run "$target" "$work" -- -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 2>&1 \
    | grep -E "^(#[0-9]+ *DONE|Done|==[0-9]+==|SUMMARY|thread)" || true
  status=${PIPESTATUS[0]}
  rm -rf "$work"
  if [ "$status" -ne 0 ]; then
    echo "fuzz target $target failed; see fuzz/artifacts/$target" >&2
    exit "$status"
  fi
done
