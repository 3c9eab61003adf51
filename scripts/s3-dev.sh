#!/usr/bin/env bash
# A local S3 server for development: the same SeaweedFS the tests use, on 127.0.0.1.
#
#   bash scripts/s3-dev.sh start     # installs it if needed, starts it, prints the AWS_* lines
#   eval "$(bash scripts/s3-dev.sh env)"   # the same lines, for the current shell
#   bash scripts/s3-dev.sh stop      # stops it (the data stays in .tools/s3-dev/data)
#   bash scripts/s3-dev.sh status
#
# Ports: S3 on SNAPSHOT_S3_DEV_PORT (default 8333); SeaweedFS's internal ports sit next
# to it (+1 .. +4, and each of those + 10000). The bucket is `snapshots`. A second
# identity, snapshot-readonly / snapshot-readonly-secret, may only read and list (for
# tests of refused writes). SNAPSHOT_S3_DEV_STATE moves the state directory.
set -euo pipefail
cd "$(dirname "$0")/.."

state="${SNAPSHOT_S3_DEV_STATE:-.tools/s3-dev}"
port="${SNAPSHOT_S3_DEV_PORT:-8333}"
bucket="snapshots"
access="snapshot-dev"
secret="snapshot-dev-secret"

env_lines() {
  cat <<LINES
export AWS_ENDPOINT=http://127.0.0.1:$port
export AWS_ALLOW_HTTP=true
export AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=$access
export AWS_SECRET_ACCESS_KEY=$secret
# then, for example: snapshot list s3://$bucket/my-app
LINES
}

running() {
  [ -f "$state/pid" ] && kill -0 "$(cat "$state/pid")" 2>/dev/null
}

case "${1:-}" in
  start)
    if running; then
      # The lines name the port the running server listens on, whatever was asked.
      port="$(cat "$state/port" 2>/dev/null || echo "$port")"
      echo "already running (pid $(cat "$state/pid"), port $port)" >&2
      env_lines
      exit 0
    fi
    weed="$(bash scripts/install-seaweedfs.sh)"
    mkdir -p "$state/data"
    cat >"$state/s3.json" <<JSON
{"identities":[{"name":"dev","credentials":[{"accessKey":"$access","secretKey":"$secret"}],"actions":["Admin","Read","Write","List","Tagging"]},{"name":"readonly","credentials":[{"accessKey":"snapshot-readonly","secretKey":"snapshot-readonly-secret"}],"actions":["Read","List"]}]}
JSON
    (
      cd "$state"
      nohup "$weed" mini -dir="$PWD/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -master.telemetry=false -admin.ui=false -webdav=false \
        -s3.port.iceberg=0 -s3.port.lance=0 \
        -s3.port="$port" -master.port=$((port + 1)) -volume.port=$((port + 2)) \
        -filer.port=$((port + 3)) -admin.port=$((port + 4)) \
        -bucket="$bucket" -s3.config="$PWD/s3.json" \
        >weed.log 2>&1 </dev/null &
      echo $! >pid
      echo "$port" >port
    )
    # The S3 port can answer before the storage behind it is ready: wait for the bucket.
    for _ in $(seq 1 120); do
      if ! running; then
        echo "SeaweedFS exited; the end of $state/weed.log:" >&2
        tail -20 "$state/weed.log" >&2
        exit 1
      fi
      if python3 - "$port" "$bucket" <<'PY' 2>/dev/null; then
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/{sys.argv[2]}", timeout=1)
except urllib.error.HTTPError as e:
    # Unsigned: 403 means the server and the bucket answer; 404 means not yet.
    sys.exit(0 if e.code == 403 else 1)
except Exception:
    sys.exit(1)
PY
        sleep 1
        echo "S3 server up at http://127.0.0.1:$port (bucket $bucket, pid $(cat "$state/pid")); set these:" >&2
        env_lines
        exit 0
      fi
      sleep 0.5
    done
    echo "SeaweedFS did not become ready in 60 s; see $state/weed.log" >&2
    exit 1
    ;;
  env)
    if running; then port="$(cat "$state/port" 2>/dev/null || echo "$port")"; fi
    env_lines
    ;;
  stop)
    if running; then
      kill "$(cat "$state/pid")"
      rm -f "$state/pid"
      echo "stopped" >&2
    elif [ -f "$state/pid" ]; then
      rm -f "$state/pid"
      echo "not running (removed a stale pid file)" >&2
    else
      echo "not running" >&2
    fi
    ;;
  status)
    if running; then echo "running (pid $(cat "$state/pid")) at http://127.0.0.1:$port"; else echo "not running"; exit 1; fi
    ;;
  *)
    echo "usage: bash scripts/s3-dev.sh start|env|stop|status" >&2
    exit 2
    ;;
esac
