#!/usr/bin/env bash
# Runnel next to the peers of the shared harness (../shared/bench: Redis with appendfsync
# always, NATS JetStream with sync_interval always, etcd, rakaia), same workload, same hour:
#
#   scripts/bench-peers.sh            # peers + Runnel single node, then Runnel 3-node
#
# The harness runs one server of its own ("ours") per invocation, so this makes two
# invocations back to back: the first with every peer and Runnel single-node, the second with
# the disk probe and Runnel's 3-node cluster. Both write results/run-*.md in a writable copy
# of the harness ($WORK); the combined report goes to $REPORT (docs/benchmarks/peers-latest.md).
#
# Knobs: BENCH (harness dir), PEERS (first run's peers), STREAMS_LIST, DURATION, WARMUP,
# WAIT_QUIET, REPORT, and SHAPES ("single 3-node", or one of them).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BENCH=${BENCH:-$ROOT/../shared/bench}
WORK=${WORK:-/tmp/runnel-bench-harness}
RUN=/tmp/runnel-bench-run
BIN=$ROOT/.build/release/runnel
PEERS=${PEERS:-"disk redis nats215 etcd rakaia ours"}
SHAPES=${SHAPES:-"single 3-node"}
REPORT=${REPORT:-$ROOT/docs/benchmarks/peers-latest.md}
export STREAMS_LIST=${STREAMS_LIST:-"1 100"} WAIT_QUIET=${WAIT_QUIET:-120}

[ -x "$BIN" ] || { echo "build first: swift build -c release --product runnel" >&2; exit 1; }
[ -x "$BENCH/run_all.sh" ] || { echo "no harness at $BENCH (set BENCH=)" >&2; exit 1; }

# The shared harness is read-only and writes its results next to itself: run a copy.
rm -rf "$WORK" && mkdir -p "$WORK" && cp -R "$BENCH/." "$WORK/" && chmod -R u+w "$WORK"
rm -rf "$WORK/results" && mkdir -p "$WORK/results"

# Start and stop scripts for the harness: loopback ports 18081-18083 (HTTP), 18091-18093
# (peers); fresh data under $RUN on every start.
mkdir -p "$RUN"
cat >"$RUN/start.sh" <<START
#!/usr/bin/env bash
set -e
shape=\$1
rm -rf $RUN/data-*
pids=""
if [ "\$shape" = single ]; then
  $BIN serve --listen 127.0.0.1:18081 --data-dir $RUN/data-1 --log-level warning >$RUN/node1.log 2>&1 &
  pids=\$!
else
  peers=1=127.0.0.1:18091,2=127.0.0.1:18092,3=127.0.0.1:18093
  for i in 1 2 3; do
    $BIN serve --node-id \$i --listen 127.0.0.1:1808\$i --peers \$peers --data-dir $RUN/data-\$i \
      --log-level warning >$RUN/node\$i.log 2>&1 &
    pids="\$pids \$!"
  done
fi
echo "\$pids" >$RUN/pids
for _ in \$(seq 1 200); do curl -sf http://127.0.0.1:18081/readyz >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf http://127.0.0.1:18081/readyz >/dev/null || { echo "runnel did not become ready" >&2; exit 1; }
echo "PIDS: \$pids"
START
cat >"$RUN/stop.sh" <<STOP
#!/usr/bin/env bash
pids=\$(cat $RUN/pids 2>/dev/null)
for pid in \$pids; do kill -TERM "\$pid" 2>/dev/null || true; done
for _ in \$(seq 1 100); do
  alive=0; for pid in \$pids; do kill -0 "\$pid" 2>/dev/null && alive=1; done
  [ \$alive = 0 ] && exit 0; sleep 0.1
done
for pid in \$pids; do kill -KILL "\$pid" 2>/dev/null || true; done
STOP
chmod +x "$RUN/start.sh" "$RUN/stop.sh"

VERSION=$(git -C "$ROOT" rev-parse --short HEAD)
runs=()
for shape in $SHAPES; do
  if [ "$shape" = single ]; then
    urls=http://127.0.0.1:18081
    durability='fsync before 204, 1 copy|Raft commit of a one-voter group: group-committed RocksDB WAL fdatasync before 204'
    peers=$PEERS
  else
    urls=http://127.0.0.1:18081,http://127.0.0.1:18082,http://127.0.0.1:18083
    durability='2/3 fsynced before 204|Raft commit on a majority of fdatasynced RocksDB WALs (leader included) before 204'
    peers="disk ours"
  fi
  echo "== harness run: $peers (runnel $shape)"
  (cd "$WORK" && OURS_BASE_URL=$urls OURS_START="$RUN/start.sh $shape" OURS_STOP=$RUN/stop.sh \
    OURS_NAME=runnel OURS_VERSION=$VERSION OURS_SHAPE=$shape OURS_DURABILITY="$durability" \
    PEERS="$peers" ./run_all.sh)
  runs+=("$(ls -t "$WORK"/results/run-*.md | head -1)")
done

mkdir -p "$(dirname "$REPORT")"
{
  echo "# Runnel next to its peers: the latest \`make bench\` run"
  echo
  echo "Written by \`scripts/bench-peers.sh\` (\`make bench\`); docs/benchmarks.md explains the figures."
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); runnel $VERSION (release build)"
  echo "- machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME"), $(uname -r)"
  echo "- workload: ${PRODUCERS:-32} producers, one append in flight each, ${MSG_BYTES:-256}-byte messages, streams ${STREAMS_LIST}, ${WARMUP:-2} s warmup + ${DURATION:-10} s measured per row"
  echo "- harness: a copy of ../shared/bench run as \`PEERS=\"...\" ./run_all.sh\` with OURS_* set (see scripts/bench-peers.sh)"
  for md in "${runs[@]}"; do
    echo
    echo "## $(basename "$md")"
    echo
    sed -e '1{/^# /d}' "$md"
  done
} >"$REPORT"
echo "report: $REPORT"
