#!/usr/bin/env bash
# SSE fan-out for several `runnel serve` configurations, measured side by side: one release node
# per configuration, one after the other, ROUNDS times (interleaved), then the median of each.
# SUBSCRIBERS SSE readers (default 1000) on one stream, one writer at RATE appends/s (default
# 100) for DURATION seconds (default 10), `runnel bench fanout` as the client (it shares the
# cores); server CPU is read from /proc over the whole run.
#   ./scripts/measure-fanout.sh "off=--sse-fanout false" "on=--sse-fanout true"
# Each argument is LABEL=SERVE-ARGUMENTS. Needs `make release` first.
set -euo pipefail
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
SUBSCRIBERS=${SUBSCRIBERS:-1000}
RATE=${RATE:-100}
PORT=${PORT:-5474}
NAME=fanout
# shellcheck source=scripts/measure-lib.sh
. "$(dirname "$0")/measure-lib.sh"

for round in $(seq 1 "$ROUNDS"); do
  for config in "$@"; do
    label=${config%%=*}
    # shellcheck disable=SC2086
    start ${config#*=}
    before=$(cpu_ticks)
    started=$(date +%s.%N)
    result=$("$BIN" bench fanout --url "$URL" --subscribers "$SUBSCRIBERS" --rate "$RATE" --duration "$DURATION" --json 2>/dev/null \
      | python3 -c 'import json,sys; rows=[json.loads(l) for l in sys.stdin if l.startswith("{")]; r=rows[-1]; l=r["latency"]; print(r["delivered"], r["expected"], l["p50_ms"], l["p99_ms"])')
    after=$(cpu_ticks)
    ended=$(date +%s.%N)
    echo "$label $result $before $after $(getconf CLK_TCK) $started $ended" >>"$DIR/rows"
    echo "round $round: $label $result" >&2
  done
done
python3 - "$DIR/rows" "$@" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
labels = [c.split("=", 1)[0] for c in sys.argv[2:]]
print("| config | delivered/expected | p50 ms | p99 ms | server CPU (cores, whole run) | server CPU-µs per delivered event |")
print("|---|---:|---:|---:|---:|---:|")
for label in labels:
    mine = [r for r in rows if r[0] == label]
    cores = statistics.median((int(r[6]) - int(r[5])) / int(r[7]) / (float(r[9]) - float(r[8])) for r in mine)
    per_event = statistics.median((int(r[6]) - int(r[5])) / int(r[7]) * 1e6 / max(1, int(r[1])) for r in mine)
    delivered = sum(int(r[1]) for r in mine); expected = sum(int(r[2]) for r in mine)
    p50, p99 = (statistics.median(float(r[i]) for r in mine) for i in (3, 4))
    print(f"| {label} | {delivered}/{expected} | {p50:.2f} | {p99:.2f} | {cores:.2f} | {per_event:.1f} |")
print(f"\nmedians of {len(rows) // len(labels)} rounds")
PY
