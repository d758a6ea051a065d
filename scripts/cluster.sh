#!/usr/bin/env bash
# `make cluster`: three Runnel nodes on loopback for a person to try. Each node has its own
# data directory under $CLUSTER_DIR (default ./runnel-cluster) and log file; Ctrl-C stops all.
set -euo pipefail
BIN=${BIN:-./.build/release/runnel}
DIR=${CLUSTER_DIR:-./runnel-cluster}
mkdir -p "$DIR"
PEERS="1=127.0.0.1:4447,2=127.0.0.1:4448,3=127.0.0.1:4449"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM
for i in 1 2 3; do
  "$BIN" serve --node-id "$i" --listen "127.0.0.1:443$((6 + i))" --peers "$PEERS" \
    --data-dir "$DIR/node$i" >"$DIR/node$i.log" 2>&1 &
  pids+=($!)
done
for _ in $(seq 1 100); do
  curl -sf http://127.0.0.1:4437/readyz >/dev/null 2>&1 && break
  sleep 0.1
done
cat <<MSG
Three Runnel nodes are running (Ctrl-C stops them; data and logs in $DIR):
  node 1  http://127.0.0.1:4437   (peers on 127.0.0.1:4447)
  node 2  http://127.0.0.1:4438   (peers on 127.0.0.1:4448)
  node 3  http://127.0.0.1:4439   (peers on 127.0.0.1:4449)
Any node takes any request, e.g.
  curl -X PUT  http://127.0.0.1:4437/v1/stream/demo -H 'Content-Type: text/plain'
  curl -X POST http://127.0.0.1:4438/v1/stream/demo -H 'Content-Type: text/plain' -d 'hello'
  curl        'http://127.0.0.1:4439/v1/stream/demo?offset=-1'
  curl         http://127.0.0.1:4437/admin/v1/cluster
MSG
wait
