#!/usr/bin/env bash
# Issue 15's measurements (docs/state-transfer.md "Measured"): a 3-node release cluster on
# loopback holding STATE_MIB (default 1024) MiB; a snapshot taken on the leader; append
# throughput and p99 undisturbed, then while a 4th node joins and receives the snapshot; the
# transfer's MB/s and how long the 4th node took from start to voter; the leader's RSS.
#   STATE_MIB=1024 ./scripts/measure-transfer.sh      (needs `make release` first)
set -euo pipefail
BIN=${BIN:-./.build/release/runnel}
STATE_MIB=${STATE_MIB:-1024}
DIR=$(mktemp -d /tmp/runnel-measure-XXXX)
PEERS="1=127.0.0.1:5447,2=127.0.0.1:5448,3=127.0.0.1:5449"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT INT TERM
for i in 1 2 3; do
  "$BIN" serve --node-id "$i" --listen "127.0.0.1:543$((6 + i))" --peers "$PEERS" --data-dir "$DIR/node$i" \
    --snapshot-interval-mib 65536 --retained-log-entries 8 >"$DIR/node$i.log" 2>&1 &
  pids+=($!)
done
leader_url() {
  for port in 5437 5438 5439; do
    if curl -sf "http://127.0.0.1:$port/admin/v1/cluster" | grep -q "\"node_id\":$((port - 5436)),[^[]*\"role\":\"leader\""; then
      echo "http://127.0.0.1:$port"; return 0
    fi
  done
  return 1
}
for _ in $(seq 1 200); do LEADER=$(leader_url) && break; sleep 0.1; done
echo "leader: $LEADER"
leader_pid=${pids[$(( ${LEADER##*:} - 5437 ))]}
rss() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$1/status"; }
echo "filling $STATE_MIB MiB..."
"$BIN" bench append --url "$LEADER" --size 1048576 --count "$STATE_MIB" --warmup 0 --connections 4 --streams 8 --keep-streams >/dev/null
t0=$(date +%s.%N)
curl -sf -X POST "$LEADER/admin/v1/snapshot"; echo
echo "snapshot taken in $(echo "$(date +%s.%N) - $t0" | bc) s; leader RSS $(rss "$leader_pid") MiB"
echo "undisturbed appends (256 B, 32 connections, 10 s):"
"$BIN" bench append --url "$LEADER" --duration 10
# The 4th node joins while the same load runs.
"$BIN" bench append --url "$LEADER" --duration 20 >"$DIR/during.txt" &
bench=$!
sleep 3
t0=$(date +%s.%N)
"$BIN" serve --node-id 4 --listen 127.0.0.1:5440 --join "$LEADER" --advertise 127.0.0.1:5450 --data-dir "$DIR/node4" >"$DIR/node4.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 6000); do
  curl -sf "$LEADER/admin/v1/cluster" | grep -q '"id":4,[^}]*"voter":true' && break
  sleep 0.05
done
t1=$(date +%s.%N)
wait "$bench"
echo "appends while node 4 joined (the snapshot being sent):"
cat "$DIR/during.txt"
echo "node 4 voter after $(echo "$t1 - $t0" | bc) s; leader RSS $(rss "$leader_pid") MiB"
{ grep -E "snapshot|admitted|joined|role changed" "$DIR/node4.log" || true; } | cut -c1-220 | sed "s/^/  node4: /"
