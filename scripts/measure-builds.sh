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
DIR=$(mktemp -d /tmp/runnel-builds-XXXX)
CLIENT=${1#*=}
pids=""
stop() { for p in $pids; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; pids=""; }
trap 'stop; rm -rf "$DIR"' EXIT INT TERM

start() {  # start BIN: the nodes, fresh data; sets pids and urls
  stop
  rm -rf "$DIR"/data-*
  urls=""
  if [ "$SHAPE" = 1 ]; then
    "$1" serve --listen 127.0.0.1:18381 --data-dir "$DIR/data-1" --log-level warning >"$DIR/node1.log" 2>&1 &
    pids=$!
    urls=http://127.0.0.1:18381
  else
    local peers=1=127.0.0.1:18391,2=127.0.0.1:18392,3=127.0.0.1:18393
    for i in 1 2 3; do
      "$1" serve --node-id "$i" --listen "127.0.0.1:1838$i" --peers "$peers" --data-dir "$DIR/data-$i" \
        --log-level warning >"$DIR/node$i.log" 2>&1 &
      pids="$pids $!"
      urls="${urls:+$urls,}http://127.0.0.1:1838$i"
    done
  fi
  for u in ${urls//,/ }; do
    for _ in $(seq 1 200); do curl -sf "$u/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  done
}
cpu_ticks() { local t=0; for p in $pids; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }

for round in $(seq 1 "$ROUNDS"); do
  for build in "$@"; do
    label=${build%%=*}
    start "${build#*=}"
    before=$(cpu_ticks)
    # shellcheck disable=SC2086
    result=$("$CLIENT" bench append --url "$urls" --duration "$DURATION" --warmup 2 --json ${BENCH_ARGS:-} 2>/dev/null | python3 -c \
      'import json,sys; rows=[json.loads(l) for l in sys.stdin if l.startswith("{")]; r=rows[-1]; print(r["appends"], r["appends_per_s"], r["latency"]["p50_ms"], r["latency"]["p99_ms"])')
    after=$(cpu_ticks)
    echo "$label $result $before $after $(getconf CLK_TCK)" >>"$DIR/rows"
    echo "round $round: $label $result" >&2
  done
done
stop
python3 - "$DIR/rows" "$@" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
labels = [c.split("=", 1)[0] for c in sys.argv[2:]]
print("| build | appends/s | p50 ms | p99 ms | server CPU-s per 1k appends (warm-up included) | vs first |")
print("|---|---:|---:|---:|---:|---:|")
base = None
for label in labels:
    mine = [r for r in rows if r[0] == label]
    cpu = statistics.median((int(r[6]) - int(r[5])) / int(r[7]) / (int(r[1]) / 1000) for r in mine)
    rate = statistics.median(float(r[2]) for r in mine)
    base = base or cpu
    print(f"| {label} | {rate:,.0f} | {statistics.median(float(r[3]) for r in mine):.2f} | "
          f"{statistics.median(float(r[4]) for r in mine):.2f} | {cpu:.3f} | {100 * (cpu / base - 1):+.1f}% |")
PY
