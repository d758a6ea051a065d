#!/usr/bin/env bash
# Issue 16's measurements (docs/stream-snapshots.md "Measured"), on one release node:
#  1. a stream of 120,000 appends of 256 B with a 64 MiB snapshot published after the
#     20,000th, so 100,000 messages follow it; `/bootstrap` of it: time to first byte, MB/s,
#     and the server's RSS sampled every 20 ms during the response;
#  2. a 1 GiB stream retained up to its tail: the data directory's size before, right after,
#     and once RocksDB has compacted.
#   ./scripts/measure-bootstrap.sh      (needs `make release` first)
set -euo pipefail
BIN=${BIN:-./.build/release/runnel}
PORT=${PORT:-5461}
URL="http://127.0.0.1:$PORT"
DIR=$(mktemp -d /tmp/runnel-boot-XXXX)
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT INT TERM
"$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$DIR/data" >"$DIR/node.log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done
rss() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$pid/status"; }
stream_of() { curl -sf "$URL/ds/_default/streams?prefix=$1" | sed -E 's/.*"stream":"([^"]+)".*/\1/'; }
offset() { printf '0000000000000000_%016d' "$1"; }

if [ -z "${SKIP_BOOTSTRAP:-}" ]; then
echo "== bootstrap: 64 MiB snapshot + 100,000 messages after it"
"$BIN" bench append --url "$URL" --path-prefix /ds/_default/boot --size 256 --count 120000 --warmup 0 \
  --connections 16 --keep-streams >/dev/null
S="/ds/_default/$(stream_of boot)"
head -c $((64 << 20)) /dev/urandom >"$DIR/state.bin"
t0=$(date +%s.%N)
curl -sf -o /dev/null -X PUT "$URL$S/snapshot/$(offset $((20000 * 256)))" -H 'Content-Type: application/octet-stream' \
  --data-binary "@$DIR/state.bin"
echo "publish of 64 MiB: $(echo "$(date +%s.%N) - $t0" | bc) s; RSS after $(rss) MiB"
idle=$(rss)
peak=$idle
( while kill -0 "$pid" 2>/dev/null; do rss; sleep 0.02; done ) >"$DIR/rss.txt" &
sampler=$!
curl -s -o "$DIR/boot.out" -w "bootstrap: first byte %{time_starttransfer} s, total %{time_total} s, %{size_download} bytes, %{speed_download} B/s\n" "$URL$S/bootstrap"
kill "$sampler" 2>/dev/null || true
peak=$(sort -n "$DIR/rss.txt" | tail -1)
echo "server RSS: $idle MiB before, peak $peak MiB during the response"
parts=$(grep -c -- "^--runnel-" "$DIR/boot.out" || true)
echo "response: $(stat -c %s "$DIR/boot.out") bytes in $((parts - 1)) parts"
fi

echo "== retention of 1 GiB"
"$BIN" bench append --url "$URL" --path-prefix /ds/_default/ret --size 1048576 --count 1024 --warmup 0 \
  --connections 4 --keep-streams >/dev/null
R="/ds/_default/$(stream_of ret)"
tail=$(curl -sfI "$URL$R" | tr -d '\r' | awk -F': ' 'tolower($1)=="stream-next-offset" {print $2}')
curl -sf -o /dev/null -X PUT "$URL$R/snapshot/$tail" --data-binary 'state'
# Bytes in SST files (every column family; the WAL and snapshot files are not counted).
sst_mib() { find "$DIR/data" -maxdepth 2 -name '*.sst' -printf '%s\n' | awk '{s+=$1} END {print int(s/1048576)}'; }
before=$(du -sm "$DIR/data" | cut -f1)
curl -sf -o /dev/null -X PUT "$URL$R/retention/$tail"
echo "data dir: $before MiB before retention, $(du -sm "$DIR/data" | cut -f1) MiB right after"
for s in 5 25; do sleep "$s"; echo "  after +$s s: $(du -sm "$DIR/data" | cut -f1) MiB (payloads+meta SSTs: $(sst_mib) MiB)"; done
# The Raft log still holds the appends, and the last Raft snapshot file the old state, until
# the next snapshot compacts the log: take one now.
curl -sf -o /dev/null -X POST "$URL/admin/v1/snapshot"
sleep 5
echo "  after POST /admin/v1/snapshot: $(du -sm "$DIR/data" | cut -f1) MiB"
echo "  where it is:"; du -sm "$DIR"/data/* | sed 's/^/    /'
find "$DIR/data" -maxdepth 2 -type f -size +16M -printf '    %s %p\n' | sort -n | tail -8
