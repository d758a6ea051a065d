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

labels=()
for config in "$@"; do labels+=("${config%%=*}"); done
for round in $(seq 1 "$ROUNDS"); do
  for config in "$@"; do
    # shellcheck disable=SC2086
    start ${config#*=}
    echo "round $round: $(bench_row "${config%%=*}")" >&2
  done
done
print_medians "${labels[@]}"
