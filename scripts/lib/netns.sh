# Nodes on network hosts of their own, for the cluster tests that need a real network
# (tests/node/netns_*_test.sh): one network namespace per node with its own address on a bridge
# (10.x.y.1..N), the bridge's address 10.x.y.254 in the root namespace for anvil. Source it after
# scripts/lib/cluster.sh: it replaces start_node and veil_at so that node N runs, and is asked,
# inside namespace N (its API listens on that namespace's loopback). Needs root.
#
# The nodes share the machine's dockerd through its Unix socket (a namespace does not isolate the
# file system), so containers run in the root namespace; what crosses the namespaces is libp2p,
# SWIM and the Ethereum RPC.

NS_PREFIX="vns$$"
NS_BRIDGE=""
SUBNET=""
NS_LOSS_MODE=""

# The start of a namespace test: `fail`, `pass` and `json` helpers named after TEST (its name in
# messages), an EXIT trap that stops the cluster, removes the LAN and keeps the logs of a
# failure, a skip (exit 77) where Docker or namespaces are missing (Docker is required when
# VEIL_REQUIRE_DOCKER=1), then the LAN itself.
netns_test_begin() {  # netns_test_begin TEST
  NETNS_TEST=$1
  NETNS_FAILURE=""
  fail() { NETNS_FAILURE="$NETNS_TEST: FAIL: $*"; echo "$NETNS_FAILURE" >&2; exit 1; }
  pass() { echo "$NETNS_TEST: ok: $*"; }
  netns_test_finish() {
    local rc=$?
    stop_cluster
    remove_lan
    keep_logs_on_failure $rc
    # Again after the logs, where a truncated CI log keeps it.
    [[ -z $NETNS_FAILURE ]] || echo "$NETNS_FAILURE" >&2
    exit $rc
  }
  trap netns_test_finish EXIT
  local why
  why=$(docker_unavailable_reason)
  if [[ -n $why ]]; then
    [[ ${VEIL_REQUIRE_DOCKER:-0} == 1 ]] && fail "Docker is required here but: $why"
    echo "$NETNS_TEST: SKIP: $why"
    exit 77
  fi
  why=$(netns_unavailable_reason)
  [[ -z $why ]] || { echo "$NETNS_TEST: SKIP: $why"; exit 77; }
  make_lan || fail "cannot build the LAN"
}

# Whether namespaces can be made here (prints why not).
netns_unavailable_reason() {
  ip netns add "$NS_PREFIX-probe" 2>/dev/null || { echo "cannot create network namespaces"; return 0; }
  ip netns del "$NS_PREFIX-probe"
}

# The LAN: a bridge in the root namespace, one veth per node namespace.
make_lan() {
  local n ns
  for _ in $(seq 20); do
    NS_BRIDGE="vnb$$-$((RANDOM % 4096))"
    NS_BRIDGE=${NS_BRIDGE:0:15}
    SUBNET="10.$((100 + RANDOM % 100)).$((1 + RANDOM % 250))"
    ip -4 addr | grep -q " $SUBNET\." && continue
    ip link add "$NS_BRIDGE" type bridge && break
    NS_BRIDGE=""
  done
  [[ -n $NS_BRIDGE ]] || { echo "cannot create a bridge" >&2; return 1; }
  ip addr add "$SUBNET.254/24" dev "$NS_BRIDGE"
  ip link set "$NS_BRIDGE" up
  for ((n = 1; n <= CLUSTER_NODES; n++)); do
    ns="$NS_PREFIX-$n"
    ip netns add "$ns"
    ip link add "${NS_PREFIX}h$n" type veth peer name eth0 netns "$ns"
    ip link set "${NS_PREFIX}h$n" master "$NS_BRIDGE" up
    ip -n "$ns" addr add "$SUBNET.$n/24" dev eth0
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add default via "$SUBNET.254"
  done
}

remove_lan() {
  local n
  for ((n = 1; n <= CLUSTER_NODES; n++)); do ip netns del "$NS_PREFIX-$n" 2>/dev/null || true; done
  [[ -n $NS_BRIDGE ]] && ip link del "$NS_BRIDGE" 2>/dev/null || true
}

# The --node-address flags of `veil cluster init` for this LAN.
node_address_flags() {
  local n
  for ((n = 1; n <= CLUSTER_NODES; n++)); do printf -- '--node-address %s.%d ' "$SUBNET" "$n"; done
}

start_node() {
  local n=$1
  shift
  env "$@" VEIL_WEB_DIR="$ROOT/web" ip netns exec "$NS_PREFIX-$n" "$VEIL" \
    --config "$CLUSTER_WORK/cluster/node-$n/node.yaml" node run >>"$CLUSTER_WORK/node-$n.log" 2>&1 &
  eval "NODE_PID_$n=$!"
  CLUSTER_PIDS+=("$!")
}

veil_at() {
  local n=$1
  shift
  ip netns exec "$NS_PREFIX-$n" "$VEIL" --config "$CLUSTER_WORK/cluster/node-$n/node.yaml" "$@"
}

# Cuts node N off the LAN (everything on its interface is dropped), and back.
partition() {
  ip netns exec "$NS_PREFIX-$1" iptables -w -A INPUT -i eth0 -j DROP
  ip netns exec "$NS_PREFIX-$1" iptables -w -A OUTPUT -o eth0 -j DROP
}
heal() { ip netns exec "$NS_PREFIX-$1" iptables -w -F; }

# Splits the nodes into two sides that cannot reach each other (both still reach anvil):
# separate SIDE_A SIDE_B, each a space-separated list of node numbers.
separate() {
  local a b
  for a in $1; do
    for b in $2; do
      ip netns exec "$NS_PREFIX-$a" iptables -w -A INPUT -s "$SUBNET.$b" -j DROP
      ip netns exec "$NS_PREFIX-$a" iptables -w -A OUTPUT -d "$SUBNET.$b" -j DROP
      ip netns exec "$NS_PREFIX-$b" iptables -w -A INPUT -s "$SUBNET.$a" -j DROP
      ip netns exec "$NS_PREFIX-$b" iptables -w -A OUTPUT -d "$SUBNET.$a" -j DROP
    done
  done
}
# Removes every partition rule (the loss, in its own chain or qdisc, stays).
heal_all() {
  local n
  for ((n = 1; n <= CLUSTER_NODES; n++)); do ip netns exec "$NS_PREFIX-$n" iptables -w -F INPUT; ip netns exec "$NS_PREFIX-$n" iptables -w -F OUTPUT; done
}

# Drops PERCENT % of the packets each node sends (so every link loses that much each way):
# `tc netem` when the kernel has sch_netem, else `iptables -m statistic` in the mangle table
# (which heal_all leaves alone).
lossy_links() {
  local percent=$1 n ns
  for ((n = 1; n <= CLUSTER_NODES; n++)); do
    ns="$NS_PREFIX-$n"
    if [[ $NS_LOSS_MODE != iptables ]] && ip netns exec "$ns" tc qdisc add dev eth0 root netem loss "$percent%" 2>/dev/null; then
      NS_LOSS_MODE=netem
    else
      NS_LOSS_MODE=iptables
      ip netns exec "$ns" iptables -w -t mangle -A POSTROUTING -o eth0 -m statistic --mode random \
        --probability "$(printf '0.%02d' "$percent")" -j DROP
    fi
  done
}
