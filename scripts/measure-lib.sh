# Shared by the measure-*.sh scripts (source it after setting BIN, PORT and NAME): one release
# node at a time on 127.0.0.1:$PORT with fresh data under a temporary directory, its CPU ticks
# from /proc, and cleanup on exit.
#   start [SERVE-ARGUMENTS...]   (re)starts the node and waits for /healthz
#   cpu_ticks                    utime + stime of the node, in clock ticks
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
