#!/usr/bin/env bash
# Runnel's HTTP workloads with its own load generator (`runnel bench append|read|fanout`,
# docs/benchmarks.md): starts one release node on loopback with fresh data, runs the three
# workloads against it one after another, and stops it.
#
#   scripts/bench-http.sh                      # a fresh single node on 127.0.0.1:$PORT
#   URL=http://127.0.0.1:4437 scripts/bench-http.sh   # any running Durable Streams server(s)
#
# Knobs: PORT, URL (comma-separated; skips starting a node), CONNECTIONS, STREAMS, SIZE,
# DURATION, WARMUP, READ_MB, SUBSCRIBERS, RATE, FANOUT_DURATION, JSON=1 (JSON lines).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/.build/release/runnel
PORT=${PORT:-18480}
DATA=/tmp/runnel-bench-http-$$
JSONFLAG=${JSON:+--json}

[ -x "$BIN" ] || { echo "build first: swift build -c release --product runnel" >&2; exit 1; }

pid=""
stop() {
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -rf "$DATA" "$DATA.log"
}
trap stop EXIT

if [ -z "${URL:-}" ]; then
  URL=http://127.0.0.1:$PORT
  "$BIN" serve --listen 127.0.0.1:"$PORT" --data-dir "$DATA" --log-level warning >"$DATA.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do curl -sf "$URL/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -sf "$URL/readyz" >/dev/null || { echo "runnel did not become ready" >&2; cat "$DATA.log" >&2; exit 1; }
fi

"$BIN" bench append --url "$URL" --connections "${CONNECTIONS:-32}" --streams "${STREAMS:-1}" \
  --size "${SIZE:-256}" --duration "${DURATION:-10}" --warmup "${WARMUP:-2}" $JSONFLAG
"$BIN" bench read --url "$URL" --size-mb "${READ_MB:-256}" --passes 3 $JSONFLAG
"$BIN" bench fanout --url "$URL" --subscribers "${SUBSCRIBERS:-1000}" --rate "${RATE:-100}" \
  --duration "${FANOUT_DURATION:-10}" $JSONFLAG
