#!/bin/sh
# Starts `runnel serve` as one member of a Kubernetes StatefulSet.
#
# A StatefulSet names its pods <statefulset>-<ordinal> and gives each a stable DNS name
# through the headless Service: <pod>.<headless>.<namespace>.svc.<cluster domain>. From
# that alone every pod derives, with no per-pod configuration:
#   --node-id         ordinal + 1 (Runnel reserves node id 0)
#   --peers           the initial voters: ids 1..REPLICAS at their peer addresses
#   RUNNEL_ADVERTISE  this pod's own peer address
# A pod whose ordinal is REPLICAS or more was added by scaling up after the cluster was
# formed: it starts with --join JOIN_URL instead of --peers, to be added as a new member
# (runnel versions without membership changes refuse --join, and say so).
# Restarting a pod over an existing data dir resumes it: runnel then takes identity and
# membership from its data and ignores these flags.
#
# Environment (the chart sets all of it):
#   POD_NAME          required; from the downward API (metadata.name)
#   NAMESPACE         required; from the downward API (metadata.namespace)
#   HEADLESS_SERVICE  required; the StatefulSet's serviceName
#   REPLICAS          required; how many pods form the initial cluster
#   PEER_PORT         Raft peer port (default 4438)
#   CLIENT_PORT       client HTTP(S) port (default 4437)
#   CLUSTER_DOMAIN    cluster DNS suffix (default cluster.local)
#   LISTEN_HOST       address to bind both listeners to (default 0.0.0.0)
#   JOIN_URL          client URL of the existing cluster, for pods beyond REPLICAS
#   RUNNEL_BIN        the runnel executable (default: runnel on PATH)
#   RUNNEL_LISTEN, RUNNEL_PEER_LISTEN  override the listen addresses
# Arguments are passed on to `runnel serve` after the derived flags.
set -eu

fail() {
    echo "runnel-entrypoint: $*" >&2
    exit 64
}

# is_count VALUE: a decimal integer without a leading zero ("0" itself allowed).
is_count() {
    case "$1" in
        '' | *[!0-9]* | 0?*) return 1 ;;
    esac
    return 0
}

[ -n "${POD_NAME:-}" ] || fail "POD_NAME is not set (the pod's metadata.name)"
[ -n "${NAMESPACE:-}" ] || fail "NAMESPACE is not set (the pod's metadata.namespace)"
[ -n "${HEADLESS_SERVICE:-}" ] || fail "HEADLESS_SERVICE is not set"
[ -n "${REPLICAS:-}" ] || fail "REPLICAS is not set"
is_count "$REPLICAS" && [ "$REPLICAS" -ge 1 ] || fail "REPLICAS must be a positive integer, got '$REPLICAS'"

peer_port="${PEER_PORT:-4438}"
client_port="${CLIENT_PORT:-4437}"
# is_port VALUE: 1..65535.
is_port() {
    is_count "$1" && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]
}
is_port "$peer_port" || fail "PEER_PORT must be a port number, got '$peer_port'"
is_port "$client_port" || fail "CLIENT_PORT must be a port number, got '$client_port'"
domain="${CLUSTER_DOMAIN:-cluster.local}"
listen_host="${LISTEN_HOST:-0.0.0.0}"

case "$POD_NAME" in
    *-*) ;;
    *) fail "POD_NAME '$POD_NAME' is not <statefulset>-<ordinal>" ;;
esac
statefulset="${POD_NAME%-*}"
ordinal="${POD_NAME##*-}"
case "$statefulset" in
    '' | *-) fail "POD_NAME '$POD_NAME' has no StatefulSet name before its ordinal" ;;
esac
is_count "$ordinal" || fail "POD_NAME '$POD_NAME' does not end in a pod ordinal"
node_id=$((ordinal + 1))

# peer_address ORDINAL: the stable DNS name and peer port of that pod.
peer_address() {
    echo "$statefulset-$1.$HEADLESS_SERVICE.$NAMESPACE.svc.$domain:$peer_port"
}

if [ "$ordinal" -lt "$REPLICAS" ]; then
    peers=""
    i=0
    while [ "$i" -lt "$REPLICAS" ]; do
        peers="$peers${peers:+,}$((i + 1))=$(peer_address "$i")"
        i=$((i + 1))
    done
    membership_flag="--peers"
    membership_value="$peers"
else
    [ -n "${JOIN_URL:-}" ] ||
        fail "pod ordinal $ordinal is beyond the $REPLICAS initial members and JOIN_URL is not set"
    membership_flag="--join"
    membership_value="$JOIN_URL"
fi
set -- --node-id "$node_id" "$membership_flag" "$membership_value" "$@"
RUNNEL_ADVERTISE="$(peer_address "$ordinal")"
export RUNNEL_ADVERTISE

# An IPv6 bind address needs brackets in HOST:PORT.
case "$listen_host" in
    *:*) listen_host="[$listen_host]" ;;
esac
export RUNNEL_LISTEN="${RUNNEL_LISTEN:-$listen_host:$client_port}"
export RUNNEL_PEER_LISTEN="${RUNNEL_PEER_LISTEN:-$listen_host:$peer_port}"
if [ -n "${RUNNEL_DATA_DIR:-}" ]; then
    mkdir -p "$RUNNEL_DATA_DIR"
fi

echo "runnel-entrypoint: node $node_id ($POD_NAME), $REPLICAS initial members" >&2
exec "${RUNNEL_BIN:-runnel}" serve "$@"
