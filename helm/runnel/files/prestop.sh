#!/bin/sh
# preStop hook: runs before Kubernetes sends SIGTERM to runnel.
#
# 1. Scale-down (only with REMOVE_ON_SCALE_DOWN=true): Kubernetes tells a container nothing
#    about why it is being stopped, but a StatefulSet scaled down first lowers its
#    spec.replicas and only then deletes the pods whose ordinal is at or above it. So this
#    hook reads its StatefulSet's scale from the Kubernetes API (the chart grants `get` on
#    that one statefulsets/scale and mounts a token at KUBE_TOKEN_DIR). If spec.replicas is
#    above 0 and at most this pod's ordinal, the pod is going away for good: it removes its
#    node from the cluster (DELETE /admin/v1/cluster/members/<id>; a leader hands leadership
#    over once its removal commits), waits (at most REMOVE_TIMEOUT seconds) until another
#    member shows the removal committed, and then marks its volume `<data dir>.removed` so
#    that a later scale-up over the same volume discards the stale data and joins afresh.
#    spec.replicas 0 (the whole cluster stopped, e.g. for a backup), a rolling update, a
#    node drain, an eviction or a deleted StatefulSet remove nothing.
# 2. Otherwise, if this node leads, it asks the node to hand leadership to another voter and
#    waits (at most TRANSFER_TIMEOUT seconds) until it no longer leads, so writes move to
#    the new leader at once instead of waiting out an election. runnel does the same on
#    SIGTERM; doing it here first keeps the handover inside the grace period even when the
#    process is slow to drain.
# 3. Sleep DRAIN_SECONDS so Service endpoints drop this pod before it stops listening.
#
# Never fails: a pod must be able to stop even when its node is wedged.
#
# Environment: CLIENT_PORT (default 4437), CLIENT_SCHEME http|https (default http),
# LISTEN_HOST (the node's bind address, default 0.0.0.0), TRANSFER_TIMEOUT (default 20),
# DRAIN_SECONDS (default 5); for scale-down: REMOVE_ON_SCALE_DOWN, REMOVE_TIMEOUT (default
# 20), POD_NAME, NAMESPACE, JOIN_URL (the cluster's client URL), RUNNEL_JOIN_CA (CA file
# for an https JOIN_URL), RUNNEL_DATA_DIR, KUBE_TOKEN_DIR (token and ca.crt), and
# KUBERNETES_SERVICE_HOST/PORT (set by Kubernetes) or KUBE_API_URL.
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
remove_timeout="${REMOVE_TIMEOUT:-20}"

log() {
    echo "runnel-prestop: $*" >&2
}

# compact: the JSON on stdin without whitespace (runnel's JSON has none inside strings
# that matter here: ids, roles, numbers).
compact() {
    tr -d ' \n\t\r'
}

# json_number KEY: the first "KEY":<digits> of the compact JSON on stdin.
json_number() {
    sed -n "s/.*\"$1\":\([0-9][0-9]*\).*/\1/p" | head -n 1
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

# is_leader: 0 if /admin/v1/cluster says this node leads (its node_id is the leader_id;
# the members list names the leader's role too, so "role" alone would match on followers).
is_leader() {
    # -k: the certificate names the Service and pod DNS names, not the loopback address.
    status="$(auth_curl -fsS -k --max-time 3 "$base/admin/v1/cluster" 2>/dev/null | compact)"
    self="$(printf '%s' "$status" | sed -n 's/^{"node_id":\([0-9][0-9]*\).*/\1/p')"
    leader="$(printf '%s' "$status" | json_number leader_id)"
    [ -n "$self" ] && [ "$self" = "$leader" ]
}

# cluster_curl ARGS...: curl against the cluster's client URL (JOIN_URL), trusting
# RUNNEL_JOIN_CA for https when it is set.
cluster_curl() {
    if [ -n "${RUNNEL_JOIN_CA:-}" ]; then
        auth_curl -fsS --max-time 3 --cacert "$RUNNEL_JOIN_CA" "$@"
    else
        auth_curl -fsS --max-time 3 "$@"
    fi
}

# scaled_away: 0 if this pod's StatefulSet has been scaled to fewer pods than its ordinal
# needs (and to more than none).
scaled_away() {
    [ "${REMOVE_ON_SCALE_DOWN:-false}" = "true" ] || return 1
    case "${POD_NAME:-}" in *-*) ;; *) return 1 ;; esac
    statefulset="${POD_NAME%-*}"
    ordinal="${POD_NAME##*-}"
    case "$ordinal" in '' | *[!0-9]*) return 1 ;; esac
    token_dir="${KUBE_TOKEN_DIR:-/var/run/secrets/runnel/kubernetes}"
    api="${KUBE_API_URL:-}"
    if [ -z "$api" ]; then
        [ -n "${KUBERNETES_SERVICE_HOST:-}" ] || { log "no Kubernetes API address; not checking for a scale-down"; return 1; }
        api_host="$KUBERNETES_SERVICE_HOST"
        case "$api_host" in *:*) api_host="[$api_host]" ;; esac
        api="https://$api_host:${KUBERNETES_SERVICE_PORT:-443}"
    fi
    [ -r "$token_dir/token" ] || { log "no API token at $token_dir; not checking for a scale-down"; return 1; }
    # The Scale object: {"kind":"Scale",...,"spec":{"replicas":N},"status":{...}}; the API
    # server omits spec.replicas when it is 0.
    scale="$(curl -fsS --max-time 5 --cacert "$token_dir/ca.crt" \
        -H "Authorization: Bearer $(cat "$token_dir/token")" \
        "$api/apis/apps/v1/namespaces/${NAMESPACE:-default}/statefulsets/$statefulset/scale" 2>/dev/null | compact)" || {
        log "could not read statefulset/$statefulset's scale from the Kubernetes API; not removing this node"
        return 1
    }
    case "$scale" in *'"kind":"Scale"'*) ;; *) log "unexpected answer from the Kubernetes API; not removing this node"; return 1 ;; esac
    replicas="$(printf '%s' "$scale" | sed -n 's/.*"spec":{"replicas":\([0-9][0-9]*\).*/\1/p')"
    replicas="${replicas:-0}"
    [ "$replicas" -gt 0 ] && [ "$ordinal" -ge "$replicas" ]
}

# member_listed STATUS ID: 0 if the compact cluster status lists member ID.
member_listed() {
    case "$1" in *"{\"id\":$2,"*) return 0 ;; esac
    return 1
}

# remove_self: removes this node from the cluster and waits until a member's view shows
# the removal committed. 0 once it has.
remove_self() {
    node_id=$((ordinal + 1))
    deadline=$(($(date +%s) + remove_timeout))
    removal_index=""
    while [ "$(date +%s)" -lt "$deadline" ]; do
        # Sent to this node, which hands it to the leader.
        answer="$(auth_curl -sS -k --max-time 5 -X DELETE -w '\n%{http_code}' "$base/admin/v1/cluster/members/$node_id" 2>/dev/null)"
        code="$(printf '%s' "$answer" | tail -n 1)"
        body="$(printf '%s' "$answer" | sed '$d' | compact)"
        case "$code" in
            202)
                removal_index="$(printf '%s' "$body" | json_number log_index)"
                log "removal of node $node_id proposed at log index ${removal_index:-?}"
                break ;;
            404)
                log "node $node_id is not a member any more"
                removal_index=0
                break ;;
            409)
                case "$body" in
                    *membership_change_in_progress*) ;;
                    *) log "the cluster refused to remove node $node_id: $body"; return 1 ;;
                esac ;;
        esac
        sleep 1
    done
    [ -n "$removal_index" ] || { log "removal of node $node_id not accepted within ${remove_timeout}s"; return 1; }
    if [ -z "${JOIN_URL:-}" ]; then
        log "JOIN_URL is not set: cannot confirm the removal from another member"
        return 1
    fi
    while [ "$(date +%s)" -lt "$deadline" ]; do
        status="$(cluster_curl "$JOIN_URL/admin/v1/cluster" 2>/dev/null | compact)"
        commit="$(printf '%s' "$status" | json_number commit_index)"
        viewer="$(printf '%s' "$status" | sed -n 's/^{"node_id":\([0-9][0-9]*\).*/\1/p')"
        if [ -n "$commit" ] && [ "$viewer" != "$node_id" ] && [ "$commit" -ge "$removal_index" ] &&
            ! member_listed "$status" "$node_id"; then
            return 0
        fi
        sleep 1
    done
    log "node $node_id's removal not seen committed within ${remove_timeout}s"
    return 1
}

if ! command -v curl >/dev/null 2>&1; then
    log "curl not found; leaving the handover to SIGTERM"
elif scaled_away; then
    log "statefulset/$statefulset is scaled to $replicas pods: removing node $((ordinal + 1)) ($POD_NAME) from the cluster"
    if remove_self; then
        if [ -n "${RUNNEL_DATA_DIR:-}" ] && touch "$RUNNEL_DATA_DIR.removed" 2>/dev/null; then
            log "node $((ordinal + 1)) removed; its volume is marked so a later scale-up starts it afresh"
        else
            log "node $((ordinal + 1)) removed"
        fi
    else
        log "node $((ordinal + 1)) is still a member: remove it with 'runnel cluster remove $((ordinal + 1))' (docs/operations.md)"
    fi
elif is_leader; then
    log "this node leads; transferring leadership"
    auth_curl -fsS -k --max-time 5 -X POST "$base/admin/v1/cluster/transfer-leader" >/dev/null 2>&1 ||
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
