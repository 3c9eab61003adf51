#!/usr/bin/env bash
# Runs every benchmark and writes BENCHMARKS.md. `--quick` for shorter measurements.
# The S3 part starts a local SeaweedFS (installed into .tools/ if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
# --report rewrites BENCHMARKS.md from the results of the last run, measuring nothing.
mode="full"
case "${1:-}" in
  --quick) export SNAPSHOT_BENCH_QUICK=1; mode="quick" ;;
  --report) mode="report" ;;
esac
started=$(date +%s)
if [ "$mode" != "report" ]; then
  cargo bench -p snapshot-bench --bench codecs
  cargo bench -p snapshot-bench --bench storage
fi
cargo build --release -q -p snapshot-bench --bins -p snapshot-cli
memory=$(target/release/memory)
look=$(target/release/look)
dump_cost=$(target/release/dump_cost)
encryption=$(target/release/encryption)
# Lookups at a million snapshots (a simulated S3 prefix, and a directory of hard links).
# The S3 part runs against the development server (scripts/s3-dev.sh) on its own port.
lookups_dir="$(mktemp -d)"
export SNAPSHOT_S3_DEV_PORT="${SNAPSHOT_S3_DEV_PORT:-8533}"
eval "$(bash scripts/s3-dev.sh start)"
lookups=$(SNAPSHOT_LOOKUPS_S3=s3://snapshots/bench-lookups target/release/lookups "$lookups_dir")
# Streamed dumps and loads of a 2 GiB state, S3 against raw object_store, background
# checkpoints (the same server).
checkpoint=$(SNAPSHOT_CHECKPOINT_S3=s3://snapshots/bench-checkpoint target/release/checkpoint)
bash scripts/s3-dev.sh stop
rm -rf "$lookups_dir"
# The Python package against pickle, json, orjson and msgpack (a release build).
python_table=$(bash scripts/bench-python.sh)
codecs=$(target/release/report codecs)
storage=$(target/release/report storage)
elapsed=$(( $(date +%s) - started ))

cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
{
  echo "# Benchmarks"
  echo
  echo "Measured by \`bash scripts/bench.sh\` (\`--quick\` for a shorter run) on $(nproc) cores ($cpu),"
  if [ "$mode" = "report" ]; then
    echo "$(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD), tables regenerated from the stored results of the last runs (a full run takes about 300 s)."
  else
    echo "$(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD), $mode mode, ${elapsed} s in all."
  fi
  echo "Criterion medians of 10 samples; every peer runs in the same process on the same data. Times in"
  echo "milliseconds. Ratios are ours ÷ peer unless a line says otherwise."
  echo
  cat BENCHMARKS.intro.md
  echo
  echo "## Codecs"
  echo "$codecs"
  echo
  echo "## Storage"
  echo "$storage"
  echo
  echo "## Format 2: dump cost, numeric arrays, byte shuffling"
  echo "$dump_cost"
  echo
  echo "## Encryption"
  echo
  cat BENCHMARKS.encryption.md
  echo
  echo "$encryption"
  echo
  echo "## Python"
  echo
  cat BENCHMARKS.python.md
  echo
  echo "$python_table"
  echo
  echo "## Memory"
  echo
  echo "$memory"
  echo
  echo "## Looking inside a 1 GiB checkpoint"
  echo
  cat BENCHMARKS.look.md
  echo
  echo "$look"
  echo
  echo "## Lookups at scale"
  echo
  echo "$lookups"
  echo
  echo "## Checkpoints"
  echo
  cat BENCHMARKS.checkpoints.md
  echo
  echo "$checkpoint"
} > BENCHMARKS.md
echo "wrote BENCHMARKS.md (${elapsed} s)"
