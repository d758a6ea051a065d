# Shared by the measure-*.sh scripts (source it after setting BIN, PORT and NAME): one release
# node at a time on 127.0.0.1:$PORT with fresh data under a temporary directory, its CPU ticks
# from /proc, and cleanup on exit.
#   start [SERVE-ARGUMENTS...]   (re)starts the node and waits for /healthz
#   cpu_ticks                    utime + stime of the node, in clock ticks
#   bench_row LABEL              one `runnel bench append` against $URL, a row in $DIR/rows
#   print_medians LABEL...       the table of medians per label of those rows
BIN=${BIN:-./.build/release/runnel}
URL="http://127.0.0.1:$PORT"
DIR=$(mktemp -d "/tmp/runnel-$NAME-XXXX")
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT INT TERM

start() {
  [ -n "$pid" ] && { kill "$pid"; wait "$pid" 2>/dev/null || true; }
  rm -rf "$DIR/data"
  "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$DIR/data" --log-level warning "$@" >"$DIR/node.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do curl -sf "$URL/healthz" >/dev/null && break; sleep 0.1; done
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }

# One closed-loop run of CLIENT_BIN (default BIN) against URL: 32 connections unless
# BENCH_ARGS says otherwise, DURATION seconds after a 2 s warm-up; appends the row "LABEL
# appends rate p50 p99 ticks-before ticks-after CLK_TCK" to $DIR/rows and prints it.
bench_row() {
  local before after result
  before=$(cpu_ticks)
  # shellcheck disable=SC2086
  result=$("${CLIENT_BIN:-$BIN}" bench append --url "$URL" --duration "$DURATION" --warmup 2 --json ${BENCH_ARGS:-} 2>/dev/null | python3 -c \
    'import json,sys; rows=[json.loads(l) for l in sys.stdin if l.startswith("{")]; r=rows[-1]; print(r["appends"], r["appends_per_s"], r["latency"]["p50_ms"], r["latency"]["p99_ms"])')
  after=$(cpu_ticks)
  echo "$1 $result $before $after $(getconf CLK_TCK)" >>"$DIR/rows"
  echo "$1 $result"
}

# The medians of each label's rows, server CPU relative to the first label's.
print_medians() {
  python3 - "$DIR/rows" "$@" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
labels = sys.argv[2:]
print("| run | appends/s | p50 ms | p99 ms | server CPU-s per 1k appends (warm-up included) | vs first |")
print("|---|---:|---:|---:|---:|---:|")
base = None
for label in labels:
    mine = [r for r in rows if r[0] == label]
    cpu = statistics.median((int(r[6]) - int(r[5])) / int(r[7]) / (int(r[1]) / 1000) for r in mine)
    rate, p50, p99 = (statistics.median(float(r[i]) for r in mine) for i in (2, 3, 4))
    base = base or cpu
    delta = "" if cpu == base else f"{(cpu / base - 1) * 100:+.1f}%"
    print(f"| {label} | {rate:,.0f} | {p50:.2f} | {p99:.2f} | {cpu:.4f} | {delta} |")
print(f"\nmedians of {len(rows) // len(labels)} rounds")
PY
}
