#!/usr/bin/env bash
# Makes docs/ui.png: `snapshot ui` over a demo store (a training run of 24 checkpoints
# over three days, two runs told apart by a label), with a snapshot opened and a diff
# shown, captured by headless chromium (bash scripts/install-chromium.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p snapshot-cli
bin=target/debug/snapshot
store=$(mktemp -d)
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$store"' EXIT
for i in $(seq 0 23); do
  run=$([ "$i" -lt 14 ] && echo a || echo b)
  day=$((14 + i / 8))
  hour=$(printf "%02d" $(( (i % 8) * 3 )))
  python3 - "$i" > "$store/state.json" <<'PY'
import json, math, sys
i = int(sys.argv[1])
print(json.dumps({
    "step": 500 * (i + 1),
    "config": {"lr": 0.001 if i < 14 else 0.0005, "batch": 64, "model": "resnet-18"},
    "metrics": {"loss": round(2.0 * math.exp(-i / 8), 4), "accuracy": round(1 - math.exp(-i / 6), 4)},
    "weights": [round(math.sin(i + k / 7), 3) for k in range(40 * (i + 4))],
    "seen_ids": list(range(0, 30 * (i + 1), 7)),
}))
PY
  "$bin" put "$store/run" "$store/state.json" --at "2024-01-${day}T${hour}:00:00Z" \
    --step $((500 * (i + 1))) --label "run=$run" --label "host=gpu-1" >/dev/null
done
"$bin" ui "$store/run" > "$store/ui.out" &
server=$!
for _ in $(seq 50); do grep -q http "$store/ui.out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://127.0.0.1:[0-9]*/' "$store/ui.out")
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,860 \
  --virtual-time-budget=8000 --user-data-dir="$store/profile" \
  --screenshot="$PWD/docs/ui.png" \
  "${url}#open=2024-01-16_12-00-00-000000&diff=2024-01-15_15-00-00-000000,2024-01-16_12-00-00-000000" \
  2>/dev/null
echo "wrote docs/ui.png"
