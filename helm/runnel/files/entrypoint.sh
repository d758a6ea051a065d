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
# A pod whose data dir is new asks the running cluster (JOIN_URL, which routes to ready
# members only) about its node id first, because an empty node must never take the place
# of a member that had data (it would vote with a forgotten log):
#   - nobody answers: a fresh install (pods below REPLICAS bootstrap with --peers, and
#     runnel itself refuses to bootstrap if the cluster turns out to exist); a pod at or
#     beyond REPLICAS keeps asking;
#   - the cluster answers and the id is not a member: start with --join, whatever the ordinal;
#   - the id is a member: this pod lost its volume. With AUTO_REPLACE=true it asks the
#     cluster to replace the member (POST /admin/v1/cluster/members {"replace": true}: the
#     old member is removed, then this node is added as a learner); otherwise it waits for
#     an operator to run `runnel cluster add <id> <address> --replace`. Either way runnel
#     starts (with --join) only once another member shows the id no longer a voter with
#     the change committed.
# A volume marked `<data dir>.removed` (the preStop hook's mark after a scale-down removed
# this node) holds the data of a node that is no longer a member: it is discarded first.
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
#   JOIN_URL          client URL of the existing cluster (ready members only)
#   RUNNEL_JOIN_CA    CA file to trust when JOIN_URL is https (also read by runnel)
#   AUTO_REPLACE      true: replace this node's lost member by itself (default false)
#   RUNNEL_DATA_DIR   the data dir; without it the pod cannot tell a new volume
#   POLL_SECONDS      seconds between questions to the cluster (default 2)
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

log() {
    echo "runnel-entrypoint: $*" >&2
}

# compact: JSON on stdin without whitespace.
compact() {
    tr -d ' \n\t\r'
}

# auth_curl ARGS...: curl carrying the admin token (RUNNEL_ADMIN_TOKEN, when set) as a bearer
# credential (docs/access-control.md), handed over on stdin (curl -K -) so that it never
# shows in the process list.
auth_curl() {
    if [ -n "${RUNNEL_ADMIN_TOKEN:-}" ]; then
        escaped="$(printf '%s' "$RUNNEL_ADMIN_TOKEN" | sed 's/[\\"]/\\&/g')"
        printf 'header = "Authorization: Bearer %s"\n' "$escaped" | curl -K - "$@"
    else
        curl "$@"
    fi
}

# cluster_curl ARGS...: curl against JOIN_URL, trusting RUNNEL_JOIN_CA for https if set.
cluster_curl() {
    if [ -n "${RUNNEL_JOIN_CA:-}" ]; then
        auth_curl -sS --max-time 5 --cacert "$RUNNEL_JOIN_CA" "$@"
    else
        auth_curl -sS --max-time 5 "$@"
    fi
}

# cluster_status: the compact GET /admin/v1/cluster of a member that knows a leader, or
# nothing (and status 1).
cluster_status() {
    answer="$(cluster_curl -f "$JOIN_URL/admin/v1/cluster" 2>/dev/null | compact)" || return 1
    case "$answer" in
        *'"admission":"member"'*) ;;
        *) return 1 ;;
    esac
    case "$answer" in
        *'"leader_id":0,'* | '') return 1 ;;
    esac
    printf '%s' "$answer"
}

# member_of STATUS: this node's entry in the status's members list, or nothing.
member_of() {
    printf '%s' "$1" | grep -o "{\"id\":$node_id,[^}]*}" | head -n 1
}

# number_of KEY TEXT: the first "KEY":<digits> in TEXT.
number_of() {
    printf '%s' "$2" | sed -n "s/.*\"$1\":\([0-9][0-9]*\).*/\1/p" | head -n 1
}

# settled STATUS SINCE: 0 when the status, from another member, shows this node's id not a
# voter and commits at least log index SINCE (so a removal proposed there is committed and
# can no longer be undone by a leader change).
settled() {
    viewer="$(printf '%s' "$1" | sed -n 's/^{"node_id":\([0-9][0-9]*\).*/\1/p')"
    commit="$(number_of commit_index "$1")"
    [ -n "$commit" ] && [ "$viewer" != "$node_id" ] && [ "$commit" -ge "$2" ] || return 1
    case "$(member_of "$1")" in
        *'"voter":true'*) return 1 ;;
    esac
    return 0
}

# replace_lost_member: this node's id is a member but its data is gone. Gets it replaced
# (or waits for an operator to replace it) and returns once that is settled.
replace_lost_member() {
    since=0
    if [ "${AUTO_REPLACE:-false}" = "true" ]; then
        log "node $node_id is a member of the running cluster but this volume is new: asking the cluster to replace it"
        body="{\"id\":$node_id,\"address\":\"$advertise\",\"replace\":true}"
        while :; do
            answer="$(cluster_curl -X POST -H 'Content-Type: application/json' -d "$body" -w '\n%{http_code}' \
                "$JOIN_URL/admin/v1/cluster/members" 2>/dev/null)"
            code="$(printf '%s' "$answer" | tail -n 1)"
            text="$(printf '%s' "$answer" | sed '$d' | compact)"
            case "$code" in
                200 | 202)
                    since="$(number_of log_index "$text")"
                    since="${since:-0}"
                    log "replacement of node $node_id accepted (log index $since)"
                    break ;;
                400 | 401 | 403 | 404)
                    fail "the cluster refused to replace node $node_id: HTTP $code $text" ;;
            esac
            log "replacement of node $node_id not accepted yet (HTTP $code $text); retrying"
            sleep "${POLL_SECONDS:-2}"
        done
    else
        log "node $node_id is a member of the running cluster but this volume is new: it lost its data."
        log "waiting to be replaced; run: runnel cluster add $node_id $advertise --replace --url $JOIN_URL"
    fi
    polls=0
    while :; do
        if status="$(cluster_status)" && settled "$status" "$since"; then
            log "node $node_id is no longer a voter; joining as a new node"
            return 0
        fi
        polls=$((polls + 1))
        if [ $((polls % 30)) -eq 0 ] && [ "${AUTO_REPLACE:-false}" != "true" ]; then
            log "still waiting to be replaced: runnel cluster add $node_id $advertise --replace --url $JOIN_URL"
        fi
        sleep "${POLL_SECONDS:-2}"
    done
}

# data_is_new: 0 if the data dir holds nothing yet.
data_is_new() {
    [ ! -d "$RUNNEL_DATA_DIR" ] || [ -z "$(ls -A "$RUNNEL_DATA_DIR" 2>/dev/null)" ]
}

advertise="$(peer_address "$ordinal")"
if [ "$ordinal" -lt "$REPLICAS" ]; then
    membership="peers"
else
    [ -n "${JOIN_URL:-}" ] ||
        fail "pod ordinal $ordinal is beyond the $REPLICAS initial members and JOIN_URL is not set"
    membership="join"
fi

if [ -n "${RUNNEL_DATA_DIR:-}" ]; then
    if [ -e "$RUNNEL_DATA_DIR.removed" ]; then
        log "node $node_id was removed from the cluster when it was scaled down: discarding its old data"
        rm -rf "$RUNNEL_DATA_DIR"
        rm -f "$RUNNEL_DATA_DIR.removed"
    fi
    if [ -n "${JOIN_URL:-}" ] && data_is_new; then
        if ! command -v curl >/dev/null 2>&1; then
            log "curl not found: cannot ask the cluster whether node $node_id is a member"
        else
            status=""
            while :; do
                status="$(cluster_status)" && break
                status=""
                # Nobody answers: a fresh cluster, whose initial members bootstrap together.
                [ "$membership" = "join" ] || break
                log "no member of the cluster answers at $JOIN_URL yet; retrying"
                sleep "${POLL_SECONDS:-2}"
            done
            if [ -n "$status" ]; then
                membership="join"
                if [ -n "$(member_of "$status")" ]; then
                    replace_lost_member
                fi
            fi
        fi
    fi
fi

if [ "$membership" = "peers" ]; then
    peers=""
    i=0
    while [ "$i" -lt "$REPLICAS" ]; do
        peers="$peers${peers:+,}$((i + 1))=$(peer_address "$i")"
        i=$((i + 1))
    done
    membership_flag="--peers"
    membership_value="$peers"
else
    membership_flag="--join"
    membership_value="$JOIN_URL"
fi
set -- --node-id "$node_id" "$membership_flag" "$membership_value" "$@"
RUNNEL_ADVERTISE="$advertise"
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
