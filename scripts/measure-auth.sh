#!/usr/bin/env bash
# Issue 17's measurement (docs/access-control.md "Measured"): server CPU per durable append on
# one release node without authentication, with an API key and with a JWT (HS256), one after
# the other, ROUNDS times (default 3, interleaved so drifts of the box hit all three alike),
# then the median of each. 32 connections, 256 B appends, DURATION seconds each (default 15).
#   ./scripts/measure-auth.sh      (needs `make release` first)
set -euo pipefail
DURATION=${DURATION:-15}
ROUNDS=${ROUNDS:-3}
PORT=${PORT:-5471}
NAME=auth
# shellcheck source=scripts/measure-lib.sh
. "$(dirname "$0")/measure-lib.sh"
ADMIN="measure-admin-token-0123456789abcdefghijklmn"
SECRET="measure-jwt-secret-0123456789abcdefghijklmnopq"
printf '%s' "$ADMIN" >"$DIR/admin"
printf '%s' "$SECRET" >"$DIR/secret"

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
# An HS256 JWT valid for an hour with the read and write scopes, signed with openssl.
jwt() {
  local header payload signature now
  now=$(date +%s)
  header=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
  payload=$(printf '{"exp":%d,"sub":"bench","scope":"read write"}' $((now + 3600)) | b64url)
  signature=$(printf '%s.%s' "$header" "$payload" | openssl dgst -sha256 -hmac "$SECRET" -binary | b64url)
  printf '%s.%s.%s' "$header" "$payload" "$signature"
}

measure() {
  local label=$1 before after appends
  before=$(cpu_ticks)
  appends=$("$BIN" bench append --url "$URL" --duration "$DURATION" --warmup 2 --json | python3 -c \
    'import json,sys; rows=[json.loads(l) for l in sys.stdin if l.startswith("{")]; r=rows[-1]; print(r["appends"], r["appends_per_s"], r["latency"]["p99_ms"])')
  after=$(cpu_ticks)
  read -r count rate p99 <<<"$appends"
  python3 - "$label" "$count" "$rate" "$p99" "$before" "$after" "$(getconf CLK_TCK)" "$DIR" <<'EOF'
import sys
label, count, rate, p99, before, after, hz = sys.argv[1:8]
cpu = (int(after) - int(before)) / int(hz)
print(f"| {label} | {float(rate):,.0f} | {float(p99):.2f} | {cpu / (int(count) / 1000):.4f} |")
with open(f"{sys.argv[8]}/rows", "a") as rows:
    rows.write(f"{label}\t{rate}\t{p99}\t{cpu / (int(count) / 1000)}\n")
EOF
}

echo "| auth | appends/s | p99 ms | server CPU-s per 1k appends (warm-up included) |"
echo "|---|---:|---:|---:|"
for round in $(seq 1 "$ROUNDS"); do
  start
  measure "none"
  start --admin-token-file "$DIR/admin"
  KEY=$(curl -sf -X POST "$URL/admin/v1/keys" -H "Authorization: Bearer $ADMIN" -d '{"scopes":["read","write"]}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  RUNNEL_TOKEN="$KEY" measure "API key"
  start --jwt-hs256-secret-file "$DIR/secret"
  RUNNEL_TOKEN="$(jwt)" measure "JWT (HS256)"
done
echo
echo "Medians of $ROUNDS rounds:"
python3 - "$DIR/rows" <<'EOF'
import statistics, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
base = None
print("| auth | appends/s | p99 ms | server CPU-s per 1k appends | vs none |")
print("|---|---:|---:|---:|---:|")
for label in ["none", "API key", "JWT (HS256)"]:
    mine = [r for r in rows if r[0] == label]
    rate, p99, cpu = (statistics.median(float(r[i]) for r in mine) for i in (1, 2, 3))
    base = cpu if label == "none" else base
    delta = "" if label == "none" else f"{(cpu / base - 1) * 100:+.1f}%"
    print(f"| {label} | {rate:,.0f} | {p99:.2f} | {cpu:.4f} | {delta} |")
EOF
