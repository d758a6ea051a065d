#!/usr/bin/env bash
# Two or more builds of runnel side by side: a single node or a three-node cluster on loopback
# per build, one after the other, ROUNDS times (interleaved, so drifts of the box hit all
# alike), then the median of each. 32 connections, 256 B appends, one stream, DURATION seconds
# (default 10), the client being `runnel bench append` of the first build (it shares the
# cores); BENCH_ARGS adds to its arguments. Server CPU is every node's, warm-up included.
#   SHAPE=3 ./scripts/measure-builds.sh old=/tmp/old/.build/release/runnel new=./.build/release/runnel
# Each argument is LABEL=PATH-TO-RUNNEL. SHAPE is 1 (default) or 3.
set -euo pipefail
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-5}
SHAPE=${SHAPE:-1}
PORT=18381
NAME=builds
CLIENT_BIN=${1#*=}
# shellcheck source=scripts/measure-lib.sh
. "$(dirname "$0")/measure-lib.sh"

# The lib runs one node; here a build runs one or three (ports 18381-18383, peers 18391-18393).
pids=""
stop() { for p in $pids; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; pids=""; }
trap 'stop; rm -rf "$DIR"' EXIT INT TERM
start_build() {
  stop
  rm -rf "$DIR"/data-*
  local peers=1=127.0.0.1:18391,2=127.0.0.1:18392,3=127.0.0.1:18393 urls=""
  for i in $(seq 1 "$SHAPE"); do
    if [ "$SHAPE" = 1 ]; then set -- "$1"; else set -- "$1" --node-id "$i" --peers "$peers"; fi
    "$1" serve --listen "127.0.0.1:1838$i" --data-dir "$DIR/data-$i" --log-level warning "${@:2}" >"$DIR/node$i.log" 2>&1 &
    pids="$pids $!"
    urls="${urls:+$urls,}http://127.0.0.1:1838$i"
  done
  for u in ${urls//,/ }; do
    for _ in $(seq 1 200); do curl -sf "$u/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  done
  URL=$urls
}
cpu_ticks() { local t=0 p; for p in $pids; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }

labels=()
for build in "$@"; do labels+=("${build%%=*}"); done
for round in $(seq 1 "$ROUNDS"); do
  for build in "$@"; do
    start_build "${build#*=}"
    echo "round $round: $(bench_row "${build%%=*}")" >&2
  done
done
stop
print_medians "${labels[@]}"
