# Shared by `make demo` (scripts/demo.d/90-cluster.sh) and the cluster integration test
# (tests/node/cluster_test.sh): start the services a local Veil cluster needs on loopback —
# anvil, a dockerd of our own with a local registry holding a busybox image, the nodes — and
# stop everything on exit. Source it, then call the functions; every function fails loudly.
#
# Needs: $VEIL (the binary), $CLUSTER_WORK (a scratch directory), $ROOT (the checkout).
# VEIL_CLUSTER_NODES: how many nodes, one operator each (3 to 7, default 3); the committee is
# all of them with threshold (N + 1) / 2, the largest an honest-majority DKG allows.
CLUSTER_NODES=${VEIL_CLUSTER_NODES:-3}
if ! [[ $CLUSTER_NODES =~ ^[3-7]$ ]]; then
  echo "VEIL_CLUSTER_NODES must be 3 to 7, not '$CLUSTER_NODES'" >&2
  return 1 2>/dev/null || exit 1
fi

CLUSTER_PIDS=()
CLUSTER_BRIDGE=""
DOCKERD_PID=""
REGISTRY_PID=""
ANVIL_PID=""

cluster_log() { printf '[cluster] %s\n' "$*" >&2; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# A base port B such that B+1..B+9 are free now, in a range the kernel does not hand out as
# ephemeral ports (those start at 32768), so other tests' sockets cannot take them meanwhile.
free_port_block() {
  python3 - "$@" <<'PY'
import random, socket
for _ in range(200):
    base = random.randrange(20000, 32000, 10)
    socks = []
    try:
        for p in range(base + 1, base + 10):
            s = socket.socket(); s.bind(("127.0.0.1", p)); socks.append(s)
        print(base); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
PY
}

# anvil on a free port (on ANVIL_HOST, default 127.0.0.1); exports VEIL_ETH_RPC and writes one
# operator key per node (anvil's dev keys, which its default mnemonic funds).
ANVIL_DEV_KEYS=(
  0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
  0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d
  0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a
  0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6
  0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a
  0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba
  0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e
)
start_anvil() {
  local anvil="$ROOT/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil" host="${ANVIL_HOST:-127.0.0.1}"
  [[ -x "$anvil" ]] || { echo "anvil is missing: run scripts/setup.sh" >&2; return 1; }
  local port; port=$(free_port)
  "$anvil" --host "$host" --port "$port" --silent >"$CLUSTER_WORK/anvil.log" 2>&1 &
  ANVIL_PID=$!
  export VEIL_ETH_RPC="http://$host:$port"
  for _ in $(seq 100); do
    curl -sf -X POST -H 'content-type: application/json' --data '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' \
      "$VEIL_ETH_RPC" >/dev/null 2>&1 && break
    sleep 0.1
  done
  local n
  for ((n = 1; n <= CLUSTER_NODES; n++)); do echo "${ANVIL_DEV_KEYS[$((n - 1))]}" >"$CLUSTER_WORK/operator-$n.key"; done
  chmod 600 "$CLUSTER_WORK"/operator-*.key
  cluster_log "anvil at $VEIL_ETH_RPC"
}

# Why Docker cannot run here, or nothing when it can.
docker_unavailable_reason() {
  command -v dockerd >/dev/null || { echo "dockerd is not installed"; return; }
  command -v docker-registry >/dev/null || { echo "docker-registry is not installed"; return; }
  [[ -x /bin/busybox || -x /usr/bin/busybox ]] || { echo "busybox-static is not installed"; return; }
  [[ $(id -u) -eq 0 ]] || { echo "dockerd needs root"; return; }
}

# For a test's start: exits 77 ("skipped") when Docker cannot run here, or 1 when
# VEIL_REQUIRE_DOCKER=1 makes that a failure; NAME starts the message.
skip_without_docker() {  # skip_without_docker NAME
  local why
  why=$(docker_unavailable_reason)
  [[ -z $why ]] && return 0
  if [[ ${VEIL_REQUIRE_DOCKER:-0} == 1 ]]; then echo "$1: FAIL: Docker is required here but: $why" >&2; exit 1; fi
  echo "$1: SKIP: $why"
  exit 77
}

# A dockerd of our own (own bridge, no firewall changes) and a registry on loopback with a
# busybox image; exports VEIL_DOCKER_SOCKET, IMAGE_REPO and IMAGE_DIGEST.
start_docker_and_registry() {
  local dir="$CLUSTER_WORK/docker" docker=/usr/bin/docker
  [[ -x $docker ]] || docker=docker
  mkdir -p "$dir"
  local subnet
  for _ in $(seq 20); do
    CLUSTER_BRIDGE="vcl$$-$((RANDOM % 4096))"; CLUSTER_BRIDGE=${CLUSTER_BRIDGE:0:15}
    subnet="10.$((100 + RANDOM % 100)).$((1 + RANDOM % 250))"
    ip -4 addr | grep -q " $subnet\." && continue
    ip link add "$CLUSTER_BRIDGE" type bridge && ip addr add "$subnet.1/24" dev "$CLUSTER_BRIDGE" && ip link set "$CLUSTER_BRIDGE" up && break
    ip link del "$CLUSTER_BRIDGE" 2>/dev/null; CLUSTER_BRIDGE=""
  done
  [[ -n $CLUSTER_BRIDGE ]] || { echo "cannot create a bridge for dockerd" >&2; return 1; }
  export VEIL_DOCKER_SOCKET="$dir/docker.sock"
  dockerd --host "unix://$VEIL_DOCKER_SOCKET" --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/dockerd.pid" \
    --bridge "$CLUSTER_BRIDGE" --iptables=false --ip-forward=false --ip-masq=false --userland-proxy=true \
    --log-level warn >"$dir/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 600); do $docker -H "unix://$VEIL_DOCKER_SOCKET" version >/dev/null 2>&1 && break; sleep 0.1; done
  $docker -H "unix://$VEIL_DOCKER_SOCKET" version >/dev/null || { tail -5 "$dir/dockerd.log" >&2; return 1; }

  local port; port=$(free_port)
  printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "$dir/registry" "$port" >"$dir/registry.yml"
  docker-registry serve "$dir/registry.yml" >"$dir/registry.log" 2>&1 &
  REGISTRY_PID=$!
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.05; done

  # An image from busybox-static: an HTTP server that says which node serves it.
  local rootfs="$dir/rootfs" busybox=/bin/busybox
  [[ -x $busybox ]] || busybox=/usr/bin/busybox
  mkdir -p "$rootfs/bin" "$rootfs/www" "$rootfs/tmp"
  cp "$busybox" "$rootfs/bin/busybox"
  for applet in sh httpd echo cat sleep hostname; do ln -sf busybox "$rootfs/bin/$applet"; done
  echo "hello from a veil replica" >"$rootfs/www/index.html"
  tar -C "$rootfs" -cf "$dir/img.tar" .
  $docker -H "unix://$VEIL_DOCKER_SOCKET" import "$dir/img.tar" veil-web:1 >/dev/null
  export IMAGE_REPO="127.0.0.1:$port/veil-web"
  $docker -H "unix://$VEIL_DOCKER_SOCKET" tag veil-web:1 "$IMAGE_REPO:1"
  local pushed
  pushed=$($docker -H "unix://$VEIL_DOCKER_SOCKET" push "$IMAGE_REPO:1")
  IMAGE_DIGEST=$(grep -o 'digest: sha256:[0-9a-f]*' <<<"$pushed" | cut -d' ' -f2)
  export IMAGE_DIGEST
  $docker -H "unix://$VEIL_DOCKER_SOCKET" rmi "$IMAGE_REPO:1" veil-web:1 >/dev/null
  cluster_log "dockerd at $VEIL_DOCKER_SOCKET; image $IMAGE_REPO@$IMAGE_DIGEST"
}

# veil cluster init with one anvil operator per node; extra arguments are passed on. The cluster
# keys come from the members' DKG (no dealer) unless VEIL_CLUSTER_DKG=0 asks for the ceremony;
# the FHE parameters are the real ones unless VEIL_CLUSTER_PARAMS=test asks for the fast,
# INSECURE set.
init_cluster() {
  local params="${VEIL_CLUSTER_PARAMS:-default}"
  local keys=(--dkg)
  [[ ${VEIL_CLUSTER_DKG:-1} == 0 ]] && keys=()
  local p2p_base="${P2P_BASE:-$(free_port_block)}" api_base="${API_BASE:-}"
  while [[ -z $api_base || $api_base == "$p2p_base" ]]; do api_base=$(free_port_block); done
  local operators=() n
  for ((n = 1; n <= CLUSTER_NODES; n++)); do operators+=(--operator-key "$CLUSTER_WORK/operator-$n.key"); done
  "$VEIL" cluster init --out "$CLUSTER_WORK/cluster" --rpc "$VEIL_ETH_RPC" \
    "${operators[@]}" --threshold $(((CLUSTER_NODES + 1) / 2)) --params "$params" \
    --p2p-base-port "$p2p_base" --api-base-port "$api_base" \
    --telemetry-interval-ms 1000 "${keys[@]}" -o json "$@" >"$CLUSTER_WORK/cluster.json"
  export VEIL_CONTRACT_ADDRESS
  VEIL_CONTRACT_ADDRESS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["contract"])' "$CLUSTER_WORK/cluster.json")
}

node_field() {  # node_field N KEY
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["nodes"][int(sys.argv[2])-1][sys.argv[3]])' \
    "$CLUSTER_WORK/cluster.json" "$1" "$2"
}

# start_node N [ENV=VALUE...]: runs node N in the background, its log in $CLUSTER_WORK/node-N.log.
start_node() {
  local n=$1; shift
  local config="$CLUSTER_WORK/cluster/node-$n/node.yaml"
  env "$@" VEIL_WEB_DIR="$ROOT/web" "$VEIL" --config "$config" node run >>"$CLUSTER_WORK/node-$n.log" 2>&1 &
  eval "NODE_PID_$n=$!"
  CLUSTER_PIDS+=("$!")
}

node_pid() { eval "echo \${NODE_PID_$1:-}"; }

# Evaluates a Python expression over the JSON in FILE as `d`: json FILE EXPR.
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

# veil against node N's API.
veil_at() {
  local n=$1; shift
  "$VEIL" --config "$CLUSTER_WORK/cluster/node-$n/node.yaml" "$@"
}

# Bounded by the clock (each try may wait out the CLI's 10 s request timeout). A node that is
# alive but never answers is hung: its threads' stacks go to stderr with its log's tail.
wait_for_api() {  # wait_for_api N
  local deadline=$((SECONDS + 120)) pid
  pid=$(node_pid "$1")
  while ((SECONDS < deadline)); do
    veil_at "$1" node ls -o json >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { tail -20 "$CLUSTER_WORK/node-$1.log" >&2; return 1; }
    sleep 0.2
  done
  echo "node $1 (pid $pid) is alive but its API did not answer for 120 s; its log's tail and its threads:" >&2
  tail -20 "$CLUSTER_WORK/node-$1.log" >&2
  if command -v gdb >/dev/null; then
    timeout 60 gdb -p "$(pgrep -P "$pid" -f 'node run' || echo "$pid")" -batch -ex 'thread apply all bt 12' 2>/dev/null |
      grep -E '^(Thread|#)' | head -150 >&2 || true
  fi
  return 1
}

# Waits until COUNT of node N's members satisfy the Python condition on `m` (a /v1/nodes entry).
wait_for_nodes_where() {  # wait_for_nodes_where N COUNT CONDITION
  local n=$1 count=$2 condition=$3 deadline=$((SECONDS + 60))
  while ((SECONDS < deadline)); do
    [[ $(veil_at "$n" node ls -o json 2>/dev/null |
      python3 -c "import json,sys; print(sum(1 for m in json.load(sys.stdin) if $condition))" 2>/dev/null) == "$count" ]] && return 0
    sleep 0.2
  done
  return 1
}
# Node N sees COUNT alive members / has telemetry from COUNT alive members (itself included).
wait_for_members() { wait_for_nodes_where "$1" "$2" 'm["state"]=="alive"'; }
wait_for_telemetry() { wait_for_nodes_where "$1" "$2" 'm["state"]=="alive" and m.get("telemetry_at",0)>0'; }

# The PeerIds holding a running replica of a job, as node N's job status reports them.
replica_nodes() {  # replica_nodes N JOB
  veil_at "$1" job status "$2" -o json | python3 -c 'import json,sys; print(" ".join(p["node"] for p in json.load(sys.stdin)["placement"] if p["state"]=="running"))'
}

# Polls node N's record of a job into OUT every 0.5 s until CONDITION, a Python expression over
# the record `d`, holds; fails after SECONDS (default 300).
wait_for_job() {  # wait_for_job N JOB OUT CONDITION [SECONDS]
  local deadline=$((SECONDS + ${5:-300}))
  until veil_at "$1" job status "$2" -o json >"$3" 2>/dev/null &&
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$3" "$4"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

# How many containers of a job run on the cluster's dockerd (every node of a local cluster uses it).
job_containers() {  # job_containers JOB_ID
  /usr/bin/docker -H "unix://$VEIL_DOCKER_SOCKET" ps -q --filter "label=veil.job=${1:0:32}" | wc -l
}

stop_cluster() {
  local pid
  for pid in "${CLUSTER_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${CLUSTER_PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [[ -n $DOCKERD_PID ]]; then
    /usr/bin/docker -H "unix://$VEIL_DOCKER_SOCKET" ps -aq 2>/dev/null | xargs -r /usr/bin/docker -H "unix://$VEIL_DOCKER_SOCKET" rm -f >/dev/null 2>&1 || true
    kill "$DOCKERD_PID" 2>/dev/null || true
    for _ in $(seq 200); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
  fi
  [[ -n $REGISTRY_PID ]] && kill "$REGISTRY_PID" 2>/dev/null
  [[ -n $ANVIL_PID ]] && kill "$ANVIL_PID" 2>/dev/null
  [[ -n $CLUSTER_BRIDGE ]] && ip link del "$CLUSTER_BRIDGE" 2>/dev/null
  # dockerd leaves mounts under its data root.
  grep -o " $CLUSTER_WORK/docker[^ ]*" /proc/mounts 2>/dev/null | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  return 0
}

# For a test's EXIT trap, after stop_cluster: on failure (any status but 0 and 77, "skipped") keep
# $CLUSTER_WORK and print the end of each node's log; otherwise remove it.
keep_logs_on_failure() {  # keep_logs_on_failure EXIT_STATUS (VEIL_KEEP_LOGS=1: keep them always)
  if [[ ${VEIL_KEEP_LOGS:-0} == 1 ]]; then
    echo "--- logs kept in $CLUSTER_WORK (VEIL_KEEP_LOGS=1)" >&2
  elif [[ $1 -ne 0 && $1 -ne 77 ]]; then
    echo "--- logs kept in $CLUSTER_WORK; last lines of each node:" >&2
    for ((n = 1; n <= CLUSTER_NODES; n++)); do echo "--- node $n" >&2; tail -25 "$CLUSTER_WORK/node-$n.log" >&2 || true; done
  else
    rm -rf "$CLUSTER_WORK"
  fi
}

# A test's EXIT trap in one call: `trap cluster_finish EXIT` stops the cluster, keeps the logs
# on failure (keep_logs_on_failure) and exits with the test's status.
cluster_finish() {
  local rc=$?
  stop_cluster
  keep_logs_on_failure $rc
  exit $rc
}

# The job spec of the demo: an HTTP server on busybox, two replicas unless told.
write_web_job() {  # write_web_job FILE [NAME [REPLICAS]]
  cat >"$1" <<YAML
name: ${2:-web}
image: $IMAGE_REPO:1@$IMAGE_DIGEST
replicas: ${3:-2}
resources:
  cpu: 10m
  memory: 32Mi
policy: spread
command: ["httpd", "-f", "-v", "-p", "8080", "-h", "/www"]
ports:
  - container: 8080
YAML
}
