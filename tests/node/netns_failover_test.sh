#!/usr/bin/env bash
# Five nodes, five operators, a 3-of-5 committee from their DKG, each node in its own network
# namespace, and 10 % of the packets every node sends lost for the whole test (docs/node.md,
# "Fail-over"). Asserts:
#   1. a one-replica job whose coordinator and replica node are then both killed (SIGKILL) is
#      running again on a live node within SWIM's detection bound plus one placement, and
#      `veil job status` on every survivor — holders of its record or not — shows it;
#   2. the two killed nodes come back: the old coordinator steps down, the old replica node stops
#      its superseded copy, and the job runs exactly once;
#   3. a 3|2 partition: the majority side keeps placing (a new job is placed and runs there);
#      after the partition heals, no job runs more copies than it asks for once the window in
#      which two copies may run has passed.
# Usage: netns_failover_test.sh PATH_TO_VEIL. Exits 77 (skipped) without root or Docker.
set -euo pipefail
VEIL="$(realpath "$1")"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CLUSTER_WORK="$(mktemp -d -t veil-failover-test.XXXXXX)"
# The network is the point here, not the FHE parameters: the fast set unless told.
export VEIL_CLUSTER_PARAMS=${VEIL_CLUSTER_PARAMS:-test}
export VEIL_CLUSTER_NODES=5
# shellcheck source=../../scripts/lib/cluster.sh
source "$ROOT/scripts/lib/cluster.sh"
# shellcheck source=../../scripts/lib/netns.sh
source "$ROOT/scripts/lib/netns.sh"
netns_test_begin netns_failover_test
now() { date +%s.%N; }
since() { python3 -c "import time; print(round(time.time() - $1, 1))"; }
ANVIL_HOST="$SUBNET.254" start_anvil
start_docker_and_registry
# shellcheck disable=SC2046
init_cluster --allow-image "$IMAGE_DIGEST" $(node_address_flags)
[[ $(json "$CLUSTER_WORK/cluster.json" 'd["threshold"]') == 3 ]] || fail "expected a 3-of-5 committee"
lossy_links 10
pass "5 nodes in 5 namespaces, 3-of-5 committee from the DKG; 10 % loss on every link ($NS_LOSS_MODE)"

ALL="1 2 3 4 5"
for n in $ALL; do start_node "$n"; done
for n in $ALL; do wait_for_api "$n" || fail "node $n API did not come up"; done
for n in $ALL; do wait_for_members "$n" 5 || fail "node $n does not see 5 alive members"; done
for n in $ALL; do wait_for_telemetry "$n" 5 || fail "node $n has no telemetry from 5 members"; done
peer_of() { node_field "$1" peer_id; }
node_of_peer() {
  local n
  for n in $ALL; do [[ $(peer_of "$n") == "$1" ]] && echo "$n" && return; done
}
BOUND_S=$("$VEIL" swim bounds --members 5 --preset local | python3 -c 'import json,sys; print(json.load(sys.stdin)["detection_bound_ms"]/1000)')
pass "all five joined; SWIM detection bound $BOUND_S s"

# 1. A one-replica job whose replica runs off its coordinator: submit through each node in turn
# until one lands elsewhere (spread usually places it off the submitter at once).
COORD="" REPLICA_NODE="" JOB=""
for n in $ALL; do
  write_web_job "$CLUSTER_WORK/solo-$n.yaml" "solo-$n" 1
  started=$(now)
  veil_at "$n" job run "$CLUSTER_WORK/solo-$n.yaml" --wait --timeout 300 -o json >"$CLUSTER_WORK/solo-$n.json" ||
    fail "job solo-$n was not placed"
  PLACEMENT_S=$(since "$started")
  r=$(node_of_peer "$(json "$CLUSTER_WORK/solo-$n.json" '[p["node"] for p in d["placement"] if p["state"]=="running"][0]')")
  if [[ $r != "$n" ]]; then
    COORD=$n REPLICA_NODE=$r JOB=$(json "$CLUSTER_WORK/solo-$n.json" 'd["id"]')
    break
  fi
done
[[ -n $JOB ]] || fail "every one-replica job landed on its own coordinator"
pass "job solo-$COORD ($JOB) placed in $PLACEMENT_S s: coordinator node $COORD, replica on node $REPLICA_NODE"

killed_at=$(now)
kill -KILL "$(node_pid "$COORD")" "$(node_pid "$REPLICA_NODE")"
SURVIVORS=""
for n in $ALL; do [[ $n != "$COORD" && $n != "$REPLICA_NODE" ]] && SURVIVORS+="$n "; done
running_elsewhere() {  # running_elsewhere N: node N's job status shows a running replica on a survivor
  veil_at "$1" job status "$JOB" -o json >"$CLUSTER_WORK/status-$1.json" 2>/dev/null || return 1
  local node
  node=$(json "$CLUSTER_WORK/status-$1.json" '" ".join(p["node"] for p in d["placement"] if p["state"]=="running")')
  [[ -n $node ]] || return 1
  [[ " $SURVIVORS " == *" $(node_of_peer "$node") "* ]]
}
first=${SURVIVORS%% *}
for _ in $(seq 600); do running_elsewhere "$first" && break; sleep 0.5; done
running_elsewhere "$first" || fail "the job is not running on a survivor: $(cat "$CLUSTER_WORK/status-$first.json")"
TOOK=$(since "$killed_at")
python3 -c "import sys; sys.exit(0 if $TOOK <= $BOUND_S + $PLACEMENT_S + 30 else 1)" ||
  fail "recovery took $TOOK s, beyond the SWIM bound $BOUND_S s + one placement ($PLACEMENT_S s) + 30 s"
NEW_COORD=$(json "$CLUSTER_WORK/status-$first.json" 'd["coordinator"]')
for n in $SURVIVORS; do
  for _ in $(seq 60); do running_elsewhere "$n" && break; sleep 0.5; done
  running_elsewhere "$n" || fail "job status on node $n does not show the job running: $(cat "$CLUSTER_WORK/status-$n.json")"
  [[ $(json "$CLUSTER_WORK/status-$n.json" 'd["coordinator"]') == "$NEW_COORD" ]] ||
    fail "node $n names another coordinator than node $first"
done
REMOTE=$(for n in $SURVIVORS; do json "$CLUSTER_WORK/status-$n.json" '"answered_by" in d'; done | grep -c True || true)
pass "coordinator (node $COORD) and replica node ($REPLICA_NODE) killed together: running again on node $(node_of_peer "$(json "$CLUSTER_WORK/status-$first.json" '[p["node"] for p in d["placement"] if p["state"]=="running"][0]')") after $TOOK s (bound $BOUND_S s + placement $PLACEMENT_S s), new coordinator node $(node_of_peer "$NEW_COORD"); job status agrees on all 3 survivors ($REMOTE of them hold no copy and asked a holder)"

# 2. Both come back: one copy of the job, no more.
for n in "$COORD" "$REPLICA_NODE"; do start_node "$n"; done
for n in "$COORD" "$REPLICA_NODE"; do wait_for_api "$n" || fail "node $n did not come back"; done
for n in $ALL; do wait_for_members "$n" 5 || fail "node $n does not see 5 alive members after the restarts"; done
for _ in $(seq 240); do [[ $(job_containers "$JOB") -eq 1 ]] && break; sleep 0.5; done
[[ $(job_containers "$JOB") -eq 1 ]] || fail "$(job_containers "$JOB") containers of the one-replica job after the restarts"
veil_at "$COORD" job status "$JOB" -o json >"$CLUSTER_WORK/back.json" || fail "job status on the old coordinator"
[[ $(json "$CLUSTER_WORK/back.json" 'd["coordinator"]') == "$NEW_COORD" ]] ||
  fail "the old coordinator still claims the job: $(json "$CLUSTER_WORK/back.json" 'd["coordinator"]')"
pass "nodes $COORD and $REPLICA_NODE came back: the old coordinator defers to node $(node_of_peer "$NEW_COORD"), one copy runs"

# 3. A 3|2 partition: the majority (3 members, the committee's threshold) keeps placing.
MAJORITY="1 2 3" MINORITY="4 5"
separate "$MAJORITY" "$MINORITY"
parted_at=$(now)
for n in $MAJORITY; do wait_for_members "$n" 3 || fail "node $n still sees the other side alive"; done
# Dead, not only suspect: the new job's holders are then chosen on the majority side alone.
wait_for_nodes_where 1 2 'm["state"] in ("dead", "left")' || fail "node 1 does not declare the minority dead"
pass "partitioned {$MAJORITY} | {$MINORITY}: the majority declared the others dead after $(since "$parted_at") s"
write_web_job "$CLUSTER_WORK/majority.yaml" majority 2
veil_at 1 job run "$CLUSTER_WORK/majority.yaml" --wait --timeout 300 -o json >"$CLUSTER_WORK/majority.json" ||
  fail "the majority side could not place a job while partitioned"
MJOB=$(json "$CLUSTER_WORK/majority.json" 'd["id"]')
for p in $(json "$CLUSTER_WORK/majority.json" '" ".join(p["node"] for p in d["placement"] if p["state"]=="running")'); do
  [[ " $MAJORITY " == *" $(node_of_peer "$p") "* ]] || fail "a replica of the new job was placed on node $(node_of_peer "$p"), across the partition"
done
pass "while partitioned the majority placed job majority ($MJOB) on its own side"

healed_at=$(now)
heal_all
for n in $ALL; do wait_for_members "$n" 5 || fail "node $n does not see 5 alive members after healing"; done
# Every job of the cluster, as any node lists it, must settle at no more copies than it asks for.
settled() {
  veil_at 1 job ls -o json >"$CLUSTER_WORK/jobs.json" 2>/dev/null || return 1
  local id want
  while read -r id want; do
    [[ $(job_containers "$id") -le $want ]] || return 1
  done < <(json "$CLUSTER_WORK/jobs.json" '"\n".join(j["id"] + " " + str(j["replicas"]) for j in d if j["state"] != "stopped")')
}
for _ in $(seq 240); do settled && break; sleep 0.5; done
settled || fail "after healing some job runs more copies than it asks for: $(cat "$CLUSTER_WORK/jobs.json")"
JOBS=$(json "$CLUSTER_WORK/jobs.json" 'len(d)')
[[ $JOBS -ge 2 ]] || fail "node 1 lists $JOBS jobs; the cluster has at least 2"
pass "healed: after $(since "$healed_at") s none of the $JOBS jobs runs more copies than it asks for"

# Nodes that are not among a job's holders answer `job status` and `job ls` for it by asking the
# members that hold it (a copy left from an earlier holder list is not trusted to be current).
veil_at 1 job status majority -o json >"$CLUSTER_WORK/majority-now.json" || fail "job status majority on node 1"
HOLDERS=$(json "$CLUSTER_WORK/majority-now.json" '" ".join(d["holders"])')
OUTSIDE=""
for n in $ALL; do [[ " $HOLDERS " == *" $(peer_of "$n") "* ]] || OUTSIDE+="$n "; done
[[ -n $OUTSIDE ]] || fail "every node holds job majority ($HOLDERS)"
for n in $OUTSIDE; do
  veil_at "$n" job status majority -o json >"$CLUSTER_WORK/minority-$n.json" ||
    fail "job status on node $n (not a holder) does not find the majority's job"
  [[ $(json "$CLUSTER_WORK/minority-$n.json" 'd["id"]') == "$MJOB" ]] || fail "node $n answered with another job"
  [[ $(json "$CLUSTER_WORK/minority-$n.json" 'd.get("answered_by", "")') != "" ]] ||
    fail "node $n, not a holder, answered from a copy of its own"
  veil_at "$n" job ls -o json | python3 -c 'import json,sys; sys.exit(0 if any(j["id"]==sys.argv[1] for j in json.load(sys.stdin)) else 1)' "$MJOB" ||
    fail "job ls on node $n does not list the majority's job"
done
pass "nodes $OUTSIDE(not holders of job majority) show it by asking its holders (job status and job ls)"
