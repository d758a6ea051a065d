#!/bin/sh
# preStop hook: runs before Kubernetes sends SIGTERM to runnel.
#
# 1. If this node leads the cluster, ask it to hand leadership to another voter and wait
#    (at most TRANSFER_TIMEOUT seconds) until it no longer leads, so writes move to the
#    new leader at once instead of waiting out an election. runnel does the same on
#    SIGTERM; doing it here first keeps the handover inside the grace period even when
#    the process is slow to drain.
# 2. Sleep DRAIN_SECONDS so Service endpoints drop this pod before it stops listening.
#
# Never fails: a pod must be able to stop even when its node is wedged.
#
# Environment: CLIENT_PORT (default 4437), CLIENT_SCHEME http|https (default http),
# LISTEN_HOST (the node's bind address, default 0.0.0.0), TRANSFER_TIMEOUT
# (default 20), DRAIN_SECONDS (default 5).
set -u

port="${CLIENT_PORT:-4437}"
scheme="${CLIENT_SCHEME:-http}"
# Talk to the node where it listens: loopback when it binds every address.
listen_host="${LISTEN_HOST:-0.0.0.0}"
case "$listen_host" in
    0.0.0.0) host="127.0.0.1" ;;
    :: | "[::]") host="[::1]" ;;
    \[*) host="$listen_host" ;;
    *:*) host="[$listen_host]" ;;
    *) host="$listen_host" ;;
esac
base="$scheme://$host:$port"
timeout="${TRANSFER_TIMEOUT:-20}"
drain="${DRAIN_SECONDS:-5}"

log() {
    echo "runnel-prestop: $*" >&2
}

# is_leader: 0 if /admin/v1/cluster says this node's role is leader.
is_leader() {
    # -k: the certificate names the Service and pod DNS names, not the loopback address.
    curl -fsS -k --max-time 3 "$base/admin/v1/cluster" 2>/dev/null |
        tr -d ' \n\t' | grep -q '"role":"leader"'
}

if ! command -v curl >/dev/null 2>&1; then
    log "curl not found; leaving the handover to SIGTERM"
elif is_leader; then
    log "this node leads; transferring leadership"
    curl -fsS -k --max-time 5 -X POST "$base/admin/v1/cluster/transfer-leader" >/dev/null 2>&1 ||
        log "transfer-leader request failed"
    waited=0
    while is_leader && [ "$waited" -lt "$timeout" ]; do
        sleep 1
        waited=$((waited + 1))
    done
    if is_leader; then
        log "still leader after ${timeout}s; SIGTERM will try again"
    else
        log "leadership handed over"
    fi
fi

sleep "$drain"
exit 0
