#!/usr/bin/env bash
# Server CPU per durable append for several `runnel serve` configurations, measured side by side:
# one release node per configuration, one after the other, ROUNDS times (interleaved, so drifts
# of the box hit all alike), then the median of each. 32 connections, 256 B appends, one stream,
# DURATION seconds each (default 12), `runnel bench append` as the client (it shares the cores);
# BENCH_ARGS adds to the client's arguments (e.g. "--streams 100").
#   ./scripts/measure-appends.sh "async=--fast-appends false" "fast=--fast-appends true"
# Each argument is LABEL=SERVE-ARGUMENTS. Needs `make release` first.
set -euo pipefail
DURATION=${DURATION:-12}
ROUNDS=${ROUNDS:-3}
PORT=${PORT:-5473}
NAME=appends
# shellcheck source=scripts/measure-lib.sh
. "$(dirname "$0")/measure-lib.sh"

for round in $(seq 1 "$ROUNDS"); do
  for config in "$@"; do
    label=${config%%=*}
    # shellcheck disable=SC2086
    start ${config#*=}
    before=$(cpu_ticks)
    # shellcheck disable=SC2086
    result=$("$BIN" bench append --url "$URL" --duration "$DURATION" --warmup 2 --json ${BENCH_ARGS:-} 2>/dev/null | python3 -c \
      'import json,sys; rows=[json.loads(l) for l in sys.stdin if l.startswith("{")]; r=rows[-1]; print(r["appends"], r["appends_per_s"], r["latency"]["p50_ms"], r["latency"]["p99_ms"])')
    after=$(cpu_ticks)
    echo "$label $result $before $after $(getconf CLK_TCK)" >>"$DIR/rows"
    echo "round $round: $label $result" >&2
  done
done
python3 - "$DIR/rows" "$@" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
labels = [c.split("=", 1)[0] for c in sys.argv[2:]]
print("| config | appends/s | p50 ms | p99 ms | server CPU-s per 1k appends (warm-up included) | vs first |")
print("|---|---:|---:|---:|---:|---:|")
base = None
for label in labels:
    mine = [r for r in rows if r[0] == label]
    cpu = statistics.median((int(r[6]) - int(r[5])) / int(r[7]) / (int(r[1]) / 1000) for r in mine)
    rate, p50, p99 = (statistics.median(float(r[i]) for r in mine) for i in (2, 3, 4))
    base = base or cpu
    delta = "" if cpu == base else f"{(cpu / base - 1) * 100:+.1f}%"
    print(f"| {label} | {rate:,.0f} | {p50:.2f} | {p99:.2f} | {cpu:.4f} | {delta} |")
print(f"\nmedians of {len(rows) // len(labels)} rounds, {sys.argv[0] if False else ''}".rstrip(", "))
PY
