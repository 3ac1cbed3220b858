#!/usr/bin/env bash
# The whole product on one machine: anvil, a dockerd of our own with a local registry, and three
# `veil node run` processes on loopback (docs/node.md), on cluster keys from the members' DKG
# (`veil cluster init --dkg`; VEIL_CLUSTER_DKG=0 uses the dealer's ceremony). Asserts, step by step:
#   0. peers that are not registered are refused, every refusal counted, the log kept short;
#   1. a two-replica job is placed, runs, answers HTTP and is anchored on chain;
#   2. the placement equals the plaintext reference decision on the same telemetry records;
#   3. node 3 tampers with its decisions: it is named, the job is placed correctly anyway, and once
#      the decision is anchored the coordinator proves the lie on chain (a signed announcement
#      that contradicts the anchored decision): node 3's operator loses the contract's default
#      50 % of its bonded stake and the reporter is credited a tenth of that;
#   4. the anchored commitment equals the one recomputed from the node's records (veil audit);
#   5. confidentiality: no node's plaintext telemetry appears in the application traffic of any
#      node (wire dumps), nor in another node's log or database;
#   6. a node holding a replica is killed (SIGKILL): SWIM declares it dead and the replica is
#      rescheduled through the same encrypted flow, onto a live node;
#   7. the coordinator is killed with SIGKILL while a job is being placed and restarted: the job
#      and its decisions are still there and it completes;
#   8. a job stopped while its round is in flight stays stopped: the round's late decision,
#      shares and assignment start nothing on any node;
#   9. fail-over: the node killed in step 6 comes back and removes its replaced replica; the
#      coordinator of the first job (which runs one of its replicas) is killed with SIGKILL, a
#      successor takes the job over and reschedules the lost replica, and `job status` on every
#      survivor names the new coordinator; the old coordinator comes back, steps down and
#      removes its replaced copy, and no more containers of the job run than it asks for.
# Usage: cluster_test.sh PATH_TO_VEIL. Exits 77 (skipped) without Docker, unless
# VEIL_REQUIRE_DOCKER=1, where that is a failure.
set -euo pipefail
VEIL="$(realpath "$1")"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CLUSTER_WORK="$(mktemp -d -t veil-cluster-test.XXXXXX)"
# shellcheck source=../../scripts/lib/cluster.sh
source "$ROOT/scripts/lib/cluster.sh"
finish() {
  local rc=$?
  stop_cluster
  keep_logs_on_failure $rc
  exit $rc
}
trap finish EXIT
fail() { echo "cluster_test: FAIL: $*" >&2; exit 1; }
pass() { echo "cluster_test: ok: $*"; }

skip_without_docker cluster_test

start_anvil
start_docker_and_registry
init_cluster --allow-image "$IMAGE_DIGEST"
if [[ ${VEIL_CLUSTER_DKG:-1} != 0 ]]; then
  # Keys from the members' DKG: each node holds its own share and nothing of the run is left.
  for n in 1 2 3; do
    [[ -s $CLUSTER_WORK/cluster/node-$n/share.sealed ]] || fail "node $n has no key share after the DKG"
    [[ -e $CLUSTER_WORK/cluster/node-$n/dkg ]] && fail "the DKG's directory of node $n was left behind"
  done
  keys="keys from the members' DKG"
else
  keys="keys from the dealer's ceremony"
fi
pass "cluster initialised: registry $VEIL_CONTRACT_ADDRESS, $keys"
# Every operator bonds 1 ETH. The minimum stays 0, so nobody is refused for a slash here
# (node.slash covers that); the contract's default slash and reporter shares apply.
OPERATOR=()
for n in 1 2 3; do
  "$VEIL" stake deposit 1eth --key-file "$CLUSTER_WORK/operator-$n.key" >/dev/null || fail "operator $n cannot bond"
  "$VEIL" stake status --key-file "$CLUSTER_WORK/operator-$n.key" -o json >"$CLUSTER_WORK/stake-$n.json"
  OPERATOR[$n]=$(json "$CLUSTER_WORK/stake-$n.json" 'd["account"]')
done
stake_field() {  # stake_field N EXPR: EXPR over `veil stake status` of operator N
  "$VEIL" stake status "${OPERATOR[$1]}" -o json >"$CLUSTER_WORK/stake-status.json" && json "$CLUSTER_WORK/stake-status.json" "$2"
}
[[ $(stake_field 3 'd["bonded_wei"]') == 1000000000000000000 ]] || fail "operator 3 has not bonded 1 ETH"

# Distinctive declared capacities (reported as they are) so that a leak would be recognisable.
# The quantised values lie in 61000..65535: above the ephemeral ports (32768..60999) and the
# cluster's port blocks (20000..32000), so no port number printed in a log can match them.
CPU=(0 631570 627210 642930)          # millicores -> 63157, 62721, 64293 units
MEM=(0 981104 1031472 994416)         # MiB        -> 61319, 64467, 62151 units
DISK=(0 16234752 15660032 16584448)   # MiB        -> 63417, 61172, 64783 units
for n in 1 2 3; do
  extra=()
  [[ $n == 3 ]] && extra=(VEIL_DEBUG_TAMPER_DECISIONS=true)
  start_node "$n" VEIL_DEBUG_FIXED_TELEMETRY=true VEIL_TELEMETRY_CAP_CPU_MILLICORES="${CPU[$n]}" \
    VEIL_TELEMETRY_CAP_MEMORY_MIB="${MEM[$n]}" VEIL_TELEMETRY_CAP_DISK_MIB="${DISK[$n]}" \
    VEIL_DEBUG_WIRE_DUMP="$CLUSTER_WORK/wire-$n.bin" "${extra[@]}"
done
for n in 1 2 3; do wait_for_api "$n" || fail "node $n API did not come up"; done
wait_for_members 1 3 || fail "node 1 does not see 3 alive members"
wait_for_telemetry 1 3 || fail "node 1 did not receive telemetry from 3 members"
pass "three nodes up and joined"

# Log hygiene: peers that are not registered nodes dial node 1 again and again. Every refusal
# is counted in /metrics; the log names the first of each peer, at most five a minute.
NODE1_P2P=$(node_field 1 p2p)
for _ in $(seq 30); do  # one stranger, again and again
  if "$VEIL" p2p ping "$NODE1_P2P" --key "$CLUSTER_WORK/stranger.key" --timeout 5 >/dev/null 2>&1; then
    fail "node 1 answered a ping from an unregistered peer"
  fi
done
for _ in $(seq 10); do "$VEIL" p2p ping "$NODE1_P2P" --timeout 5 >/dev/null 2>&1 || true; done  # a new stranger each
REFUSED=$(curl -sf --max-time 5 -H "Authorization: Bearer $(cat "$CLUSTER_WORK/cluster/node-1/data/api.token")" \
  "http://$(node_field 1 api)/metrics" | python3 -c '
import sys
for line in sys.stdin:
    if line.startswith("veil_p2p_refused_connections_total{reason=\"gated\"}"): print(int(float(line.split()[-1])))')
[[ ${REFUSED:-0} -ge 40 ]] || fail "node 1 counted ${REFUSED:-no} gated refusals of 40 dials"
LINES=$(grep -c "gater refused" "$CLUSTER_WORK/node-1.log" || true)
[[ $LINES -ge 1 && $LINES -le 6 ]] || fail "40 refused dials made $LINES log lines on node 1 (at most 5, and a summary)"
pass "40 dials from unregistered peers: $REFUSED refusals counted, $LINES log lines"

# 1. Place and run a two-replica HTTP job.
write_web_job "$CLUSTER_WORK/web.yaml" web
PLACE_STARTED=$(date +%s)
veil_at 1 job run "$CLUSTER_WORK/web.yaml" --wait --timeout 300 -o json >"$CLUSTER_WORK/web.json" \
  2>"$CLUSTER_WORK/web.wait" || { cat "$CLUSTER_WORK/web.wait"; fail "job run --wait"; }
JOB=$(json "$CLUSTER_WORK/web.json" 'd["id"]')
# --wait printed the round timeline as it happened: every step, in order, each once.
STEPS=$(grep -v ' done in ' "$CLUSTER_WORK/web.wait" | sed -nE 's#^\[job web\] ([1-7])/7 ([a-z]+) .*#\1 \2#p' | paste -sd, -)
[[ $STEPS == "1 submitted,2 schedulers,3 agreed,4 committee,5 placed,6 running,7 anchored" ]] ||
  { cat "$CLUSTER_WORK/web.wait"; fail "job run --wait timeline: '$STEPS'"; }
grep -q 'disagrees with the quorum' "$CLUSTER_WORK/web.wait" || fail "job run --wait did not show the liar being named"
[[ $(json "$CLUSTER_WORK/web.json" 'd["state"]') == running ]] || fail "job not running"
[[ $(json "$CLUSTER_WORK/web.json" 'len({p["node"] for p in d["placement"] if p["state"]=="running"})') == 2 ]] ||
  fail "two replicas must run on two distinct nodes"
for ep in $(json "$CLUSTER_WORK/web.json" '" ".join(p["endpoint"] for p in d["placement"])'); do
  body=$(curl -sf --max-time 5 "http://$ep/") || fail "replica at $ep does not answer"
  [[ $body == "hello from a veil replica" ]] || fail "replica at $ep answered '$body'"
done
[[ $(json "$CLUSTER_WORK/web.json" 'd["anchor"]["tx"][:2]') == 0x ]] || fail "no anchor transaction"
PLACEMENT_S=$(( $(date +%s) - PLACE_STARTED ))
pass "job $JOB placed on two nodes, both answer HTTP, anchored in $(json "$CLUSTER_WORK/web.json" 'd["anchor"]["tx"]')"
# The evaluation's bootstraps are counted (the dashboard's "bootstraps per decision" chart).
PBS_PER_EVAL=$(curl -sf --max-time 5 -H "Authorization: Bearer $(cat "$CLUSTER_WORK/cluster/node-1/data/api.token")" \
  "http://$(node_field 1 api)/metrics" | python3 -c '
import sys
m = dict(l.split()[:2] for l in sys.stdin if l.startswith(("veil_sched_bootstraps_total ", "veil_sched_evaluation_seconds_count ")))
print(round(float(m["veil_sched_bootstraps_total"]) / float(m["veil_sched_evaluation_seconds_count"])))') ||
  fail "node 1's /metrics lacks veil_sched_bootstraps_total or its evaluations"
((PBS_PER_EVAL > 0)) || fail "node 1 counted $PBS_PER_EVAL bootstraps per evaluation"
pass "node 1's evaluations ran $PBS_PER_EVAL bootstraps each (veil_sched_bootstraps_total)"

# 1b. `job logs` through node 1 (whose operator submitted the job) shows both replicas' output
# (httpd -v logs each request), fetched from the nodes that run them. Nodes 2 and 3 belong to
# other operators: each shows the replica it runs itself (its own machine) and is refused the
# others' (docs/node.md, "Logs"), and the CLI exits 1 naming the refusal.
for n in 1 2 3; do
  rc=0
  veil_at "$n" job logs "$JOB" -o json >"$CLUSTER_WORK/logs-$n.json" || rc=$?
  python3 - "$CLUSTER_WORK/logs-$n.json" "$CLUSTER_WORK/web.json" "$(node_field "$n" peer_id)" "$rc" <<'PY' || fail "job logs on node $n (exit $rc): $(cat "$CLUSTER_WORK/logs-$n.json")"
import json, sys
logs, job, me, rc = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3], int(sys.argv[4])
placed = {(p["replica"], p["node"]) for p in job["placement"]}
got = {(l["replica"], l["node"]) for l in logs if "error" not in l}
refused = {l["node"] for l in logs if "error" in l}
assert all("response:200" in l["logs"] for l in logs if "error" not in l), "a replica's logs lack the request it answered"
if me == job["coordinator"]:
    assert got == placed and not refused and rc == 0, (got, placed, refused, rc)
else:
    assert got == {p for p in placed if p[1] == me}, (got, placed)
    assert refused == {n for _, n in placed if n != me} and rc == 1, (refused, rc)
    assert all("are for nodes of its operator" in l["error"] for l in logs if "error" in l), logs
PY
done
pass "job logs through node 1 shows both replicas' requests; nodes of other operators get only their own and are refused the rest"

# 2. The encrypted decision equals the plaintext reference on the same records.
python3 - "$CLUSTER_WORK" <<'PY' >"$CLUSTER_WORK/inputs.json" || fail "collecting the round's plaintext inputs"
import json, sys, urllib.request
work = sys.argv[1]
cluster = json.load(open(f"{work}/cluster.json"))
job = json.load(open(f"{work}/web.json"))
placed = [r for r in job["rounds"] if r["outcome"] == "placed"][-1]
by_peer = {}
for i, node in enumerate(cluster["nodes"], start=1):
    token = open(f"{work}/cluster/node-{i}/data/api.token").read().strip()
    req = urllib.request.Request(f"http://{node['api']}/v1/telemetry", headers={"Authorization": f"Bearer {token}"})
    by_peer[node["peer_id"]] = {r["hash"]: r for r in json.load(urllib.request.urlopen(req))}
# The plan reads only the quantised values (it ignores a record's hash and time, and refuses other keys).
fields = ("cpu", "memory", "disk", "gpu", "latency")
nodes = [{k: by_peer[n["peer"]][n["telemetry_hash"]][k] for k in fields} for n in placed["nodes"]]
chosen = [[n["peer"] for n in placed["nodes"]].index(job["placement"][s]["node"]) for s in placed["slots"]]
print(json.dumps({"nodes": nodes, "chosen": chosen}))
PY
json "$CLUSTER_WORK/inputs.json" 'json.dumps(d["nodes"])' >"$CLUSTER_WORK/nodes.json"
"$VEIL" job plan "$CLUSTER_WORK/web.yaml" --nodes "$CLUSTER_WORK/nodes.json" -o json >"$CLUSTER_WORK/plan.json"
[[ "$(json "$CLUSTER_WORK/plan.json" 'd["replicas"]')" == "$(json "$CLUSTER_WORK/inputs.json" 'd["chosen"]')" ]] ||
  fail "placement $(json "$CLUSTER_WORK/inputs.json" 'd["chosen"]') differs from the reference $(json "$CLUSTER_WORK/plan.json" 'd["replicas"]')"
pass "placement equals the plaintext reference $(json "$CLUSTER_WORK/plan.json" 'd["replicas"]')"

# 3. The lying scheduler is named and ignored.
LIAR=$(node_field 3 peer_id)
json "$CLUSTER_WORK/web.json" '"\n".join(d["warnings"])' | grep -q "scheduler $LIAR" || fail "the lying scheduler $LIAR is not named"
[[ $(json "$CLUSTER_WORK/web.json" '[x["agreed"] for x in d["decisions"] if x["scheduler"]==sys.argv[3]]' "$LIAR") == "[False]" ]] ||
  fail "the liar's decision is not marked as disagreeing"
grep -q "scheduler $LIAR published decision" "$CLUSTER_WORK/node-1.log" || fail "the coordinator's log does not name the liar"
pass "lying scheduler $LIAR named in the status and the log"
# The coordinator proves the lie once the decision is anchored: the liar's signed announcement
# contradicts the anchored quorum decision over the same inputs (submitContradiction).
SLASH_BPS=$(stake_field 3 'd["cluster"]["slash_bps"]')
REPORTER_BPS=$(stake_field 3 'd["cluster"]["reporter_bps"]')
SLASH_WEI=$(python3 -c "print(10**18 * $SLASH_BPS // 10000)")
REWARD_WEI=$(python3 -c "print($SLASH_WEI * $REPORTER_BPS // 10000)")
for _ in $(seq 60); do
  [[ $(stake_field 3 'd["bonded_wei"]') != 1000000000000000000 ]] && break
  sleep 0.5
done
[[ $(stake_field 3 'd["bonded_wei"]') == $((10**18 - SLASH_WEI)) ]] ||
  fail "operator 3's bonded stake is $(stake_field 3 'd["bonded_wei"]') wei, not 1 ETH less $SLASH_BPS bps"
[[ $(stake_field 1 'd["rewards_wei"]') == "$REWARD_WEI" ]] || fail "the coordinator's operator was not credited $REWARD_WEI wei"
grep -q "scheduler $LIAR slashed: $SLASH_WEI wei of operator ${OPERATOR[3]} for contradicting the anchored decision" \
  "$CLUSTER_WORK/node-1.log" || fail "node 1 does not log the slash"
veil_at 1 job status "$JOB" -o json >"$CLUSTER_WORK/slashed.json"
[[ $(json "$CLUSTER_WORK/slashed.json" 'sum("contradicts the anchored" in e["message"] for e in d["events"])') -ge 1 ]] ||
  fail "no contradiction event in job $JOB"
pass "the liar's contradiction of the anchored decision proven on chain: operator 3 bonded 1 -> $(stake_field 3 'd["bonded_wei"]') wei"

# 4. The commitment on chain equals the one recomputed from the node's records.
veil_at 1 audit "$JOB" --from-node -o json >"$CLUSTER_WORK/audit.json" || fail "veil audit --from-node: $(cat "$CLUSTER_WORK/audit.json")"
[[ $(json "$CLUSTER_WORK/audit.json" 'd["ok"]') == True ]] || fail "audit"
pass "audit: commitment on chain equals the recomputed one"

# 5. Confidentiality.
python3 - "$CLUSTER_WORK" "${CPU[*]}" "${MEM[*]}" "${DISK[*]}" <<'PY' || fail "confidentiality"
import re, struct, sys, glob
work = sys.argv[1]
cpu, mem, disk = ([int(x) for x in a.split()] for a in sys.argv[2:5])
leaks = []
for n in (1, 2, 3):
    q = (cpu[n] // 10, mem[n] // 16, disk[n] // 256)
    raw = (cpu[n], mem[n], disk[n])
    binary = [struct.pack(">3H", *q), struct.pack("<3H", *q)] + [struct.pack(f"{e}Q", v) for v in raw for e in "<>"]
    texts = [str(v) for v in q + raw]
    for m in (1, 2, 3):
        wire = open(f"{work}/wire-{m}.bin", "rb").read()
        for b in binary:
            if b in wire: leaks.append(f"node {n}'s telemetry {b.hex()} in node {m}'s traffic")
        if m == n: continue  # a node may know its own telemetry
        files = [f"{work}/node-{m}.log"] + glob.glob(f"{work}/cluster/node-{m}/data/state.db*")
        for f in files:
            data = open(f, "rb").read()
            for b in binary:
                if b in data: leaks.append(f"node {n}'s telemetry {b.hex()} in {f}")
            for t in texts:
                if re.search(rb"(?<![0-9A-Za-z])" + t.encode() + rb"(?![0-9A-Za-z])", data):
                    leaks.append(f"node {n}'s telemetry value {t} in {f}")
if leaks:
    print("\n".join(leaks), file=sys.stderr)
    sys.exit(1)
print(f"checked {sum(len(open(f'{work}/wire-{m}.bin','rb').read()) for m in (1,2,3))} bytes of traffic and every other node's log and database")
PY
pass "no plaintext telemetry in traffic, other nodes' logs or databases"

# 5b. A secret (docs/jobspec.md, "Secrets"): read from the submitter's environment, readable in
# its replica's container, and nowhere in the traffic, any node's log or any node's database.
SECRET=$(python3 -c 'import secrets; print("s3cr3t-" + secrets.token_hex(12))')
cat >"$CLUSTER_WORK/vault.yaml" <<YAML
name: vault
image: $IMAGE_REPO:1@$IMAGE_DIGEST
resources: {cpu: 10m, memory: 32Mi}
command: ["sh", "-c", "echo \"\$API_KEY\" >/www/key.txt && exec httpd -f -p 8080 -h /www"]
ports:
  - container: 8080
secrets:
  API_KEY: {from_env: TEST_API_KEY}
YAML
TEST_API_KEY="$SECRET" veil_at 1 job run "$CLUSTER_WORK/vault.yaml" --wait --timeout 300 -o json >"$CLUSTER_WORK/vault.json" \
  2>"$CLUSTER_WORK/vault.wait" || { cat "$CLUSTER_WORK/vault.wait"; fail "job run vault --wait"; }
VAULT_EP=$(json "$CLUSTER_WORK/vault.json" 'd["placement"][0]["endpoint"]')
# "running" is the container's state; its httpd may take a moment more to listen.
for _ in $(seq 40); do [[ $(curl -sf --max-time 5 "http://$VAULT_EP/key.txt") == "$SECRET" ]] && break; sleep 0.5; done
GOT=$(curl -sf --max-time 5 "http://$VAULT_EP/key.txt") || GOT="(no answer)"
[[ $GOT == "$SECRET" ]] || fail "the replica at $VAULT_EP does not hold its secret: it serves '${GOT:0:40}'"
veil_at 1 job stop vault >/dev/null || fail "job stop vault"
python3 - "$CLUSTER_WORK" "$SECRET" <<'PY' || fail "a secret leaked"
import glob, sys
work, secret = sys.argv[1], sys.argv[2].encode()
forms = [secret, secret.hex().encode(), secret.hex().upper().encode()]
files = [f"{work}/wire-{m}.bin" for m in (1, 2, 3)] + [f"{work}/node-{m}.log" for m in (1, 2, 3)]
files += glob.glob(f"{work}/cluster/node-*/data/state.db*")
leaks = [f"{f} holds the secret ({form[:8].decode()}...)" for f in files for form in forms if form in open(f, "rb").read()]
if leaks:
    print("\n".join(leaks), file=sys.stderr)
    sys.exit(1)
print(f"searched {len(files)} files (traffic, logs, databases) for the secret")
PY
pass "a secret from the submitter's environment is readable in its replica and in no traffic, log or database"

# 6. Kill a node that holds a replica (not the coordinator): its replica is rescheduled.
VICTIM=""
for n in 2 3; do
  json "$CLUSTER_WORK/web.json" '[p["node"] for p in d["placement"]]' | grep -q "$(node_field $n peer_id)" && VICTIM=$n && break
done
[[ -n $VICTIM ]] || fail "no replica outside the coordinator"
VICTIM_PEER=$(node_field "$VICTIM" peer_id)
KILLED_AT=$(date +%s.%N)
kill -KILL "$(node_pid "$VICTIM")"
for _ in $(seq 600); do
  veil_at 1 job status "$JOB" -o json >"$CLUSTER_WORK/after.json" 2>/dev/null || true
  if python3 -c '
import json,sys; d=json.load(open(sys.argv[1]))
run=[p for p in d["placement"] if p["state"]=="running"]
sys.exit(0 if len(run)==2 and all(p["node"]!=sys.argv[2] for p in run) else 1)' "$CLUSTER_WORK/after.json" "$VICTIM_PEER"; then break; fi
  sleep 0.5
done
python3 -c '
import json,sys; d=json.load(open(sys.argv[1]))
run=[p for p in d["placement"] if p["state"]=="running"]
sys.exit(0 if len(run)==2 and all(p["node"]!=sys.argv[2] for p in run) else 1)' "$CLUSTER_WORK/after.json" "$VICTIM_PEER" ||
  fail "the replica of the killed node was not rescheduled: $(cat "$CLUSTER_WORK/after.json")"
RESCHEDULED_AT=$(date +%s.%N)
for ep in $(json "$CLUSTER_WORK/after.json" '" ".join(p["endpoint"] for p in d["placement"] if p["state"]=="running")'); do
  curl -sf --max-time 5 "http://$ep/" >/dev/null || fail "rescheduled replica at $ep does not answer"
done
# Within SWIM's detection bound for this cluster (docs/swim.md) plus one placement round.
BOUND_S=$("$VEIL" swim bounds --members 3 --preset local | python3 -c 'import json,sys; print(json.load(sys.stdin)["detection_bound_ms"]/1000)')
TOOK=$(python3 -c "print(round($RESCHEDULED_AT-$KILLED_AT,1))")
python3 -c "import sys; sys.exit(0 if $TOOK <= $BOUND_S + 60 else 1)" ||
  fail "rescheduling took $TOOK s, beyond the SWIM bound $BOUND_S s + 60 s for the placement"
pass "node $VICTIM killed; replica rescheduled and answering after $TOOK s (SWIM detection bound $BOUND_S s)"

# 7. Kill the coordinator with SIGKILL while a second job is being placed, then restart it.
sed 's/^name: web$/name: web2/; s/^replicas: 2$/replicas: 1/' "$CLUSTER_WORK/web.yaml" >"$CLUSTER_WORK/web2.yaml"
veil_at 1 job run "$CLUSTER_WORK/web2.yaml" -o json >"$CLUSTER_WORK/web2.json"
JOB2=$(json "$CLUSTER_WORK/web2.json" 'd["id"]')
sleep 1
kill -KILL "$(node_pid 1)"
# From here node 1 is a slow scheduler (3 s per evaluation), so that step 8's stop lands while
# the round is in flight on either parameter set (the test set decides in milliseconds).
start_node 1 VEIL_DEBUG_FIXED_TELEMETRY=true VEIL_TELEMETRY_CAP_CPU_MILLICORES="${CPU[1]}" \
  VEIL_TELEMETRY_CAP_MEMORY_MIB="${MEM[1]}" VEIL_TELEMETRY_CAP_DISK_MIB="${DISK[1]}" VEIL_DEBUG_EVALUATION_DELAY_MS=3000
wait_for_api 1 || fail "node 1 did not restart"
veil_at 1 job status "$JOB" -o json >/dev/null || fail "job $JOB lost across the restart"
for _ in $(seq 600); do
  veil_at 1 job status "$JOB2" -o json >"$CLUSTER_WORK/web2.json" 2>/dev/null || fail "job $JOB2 lost across the restart"
  [[ $(json "$CLUSTER_WORK/web2.json" 'd["state"]') == running && $(json "$CLUSTER_WORK/web2.json" 'd["anchor"] is not None') == True ]] && break
  sleep 0.5
done
[[ $(json "$CLUSTER_WORK/web2.json" 'd["state"]') == running ]] || fail "job $JOB2 did not complete after the restart"
[[ $(json "$CLUSTER_WORK/web2.json" 'len(d["rounds"])') -ge 1 ]] || fail "decisions of $JOB2 were lost"
pass "coordinator killed mid-flow and restarted: both jobs kept; $JOB2 completed and anchored"

# 8. Stop a job while its round is in flight; wait three times as long as the first placement
# took (at least 20 s) for the round's late messages, then no container of it may run.
sed 's/^name: web$/name: web3/; s/^replicas: 2$/replicas: 1/' "$CLUSTER_WORK/web.yaml" >"$CLUSTER_WORK/web3.yaml"
veil_at 1 job run "$CLUSTER_WORK/web3.yaml" -o json >"$CLUSTER_WORK/web3.json" || fail "job run web3"
JOB3=$(json "$CLUSTER_WORK/web3.json" 'd["id"]')
veil_at 1 job stop "$JOB3" >/dev/null || fail "job stop $JOB3 during its round"
grep -q "evaluating job ${JOB3:0:12} round" "$CLUSTER_WORK/node-1.log" ||
  fail "job $JOB3 was stopped before its round reached a scheduler: this step tests a stop during the round"
sleep $(( PLACEMENT_S * 3 > 20 ? PLACEMENT_S * 3 : 20 ))
veil_at 1 job status "$JOB3" -o json >"$CLUSTER_WORK/web3.json" || fail "job $JOB3 lost after its stop"
[[ $(json "$CLUSTER_WORK/web3.json" 'd["state"]') == stopped ]] ||
  fail "job $JOB3 stopped during its round is now $(json "$CLUSTER_WORK/web3.json" 'd["state"]')"
RUNNING3=$(curl -s --unix-socket "$VEIL_DOCKER_SOCKET" http://docker/containers/json | python3 -c '
import json, sys
print(sum(1 for c in json.load(sys.stdin) if (c.get("Labels") or {}).get("veil.job") == sys.argv[1][:32]))' "$JOB3")
[[ $RUNNING3 == 0 ]] || fail "$RUNNING3 container(s) of job $JOB3 run although it was stopped during its round"
pass "a job stopped during its round stayed stopped; no container of it runs"

# 9. Fail-over (docs/node.md, "Fail-over").
running_containers() {  # running_containers JOB: containers of the job running in the test's dockerd
  curl -s --unix-socket "$VEIL_DOCKER_SOCKET" http://docker/containers/json | python3 -c '
import json, sys
print(sum(1 for c in json.load(sys.stdin) if (c.get("Labels") or {}).get("veil.job") == sys.argv[1][:32]))' "$1"
}
node_of_peer() {  # node_of_peer PEER: the node number
  for n in 1 2 3; do [[ $(node_field $n peer_id) == "$1" ]] && echo $n && return 0; done
  return 1
}
restart_node() {  # restart_node N: as started above, without the debugging switches
  start_node "$1" VEIL_DEBUG_FIXED_TELEMETRY=true VEIL_TELEMETRY_CAP_CPU_MILLICORES="${CPU[$1]}" \
    VEIL_TELEMETRY_CAP_MEMORY_MIB="${MEM[$1]}" VEIL_TELEMETRY_CAP_DISK_MIB="${DISK[$1]}"
  wait_for_api "$1" || fail "node $1 did not restart"
}
# The node killed in step 6 returns. Its container kept running in the shared dockerd while it
# was away (as in a partition); its replica was moved, so the coordinator refuses its report.
restart_node "$VICTIM"
for _ in $(seq 120); do [[ $(running_containers "$JOB") == 2 ]] && break; sleep 0.5; done
[[ $(running_containers "$JOB") == 2 ]] || fail "node $VICTIM came back and $(running_containers "$JOB") containers of $JOB run (2 wanted)"
wait_for_members "$VICTIM" 3 || fail "node $VICTIM does not see 3 alive members"
pass "node $VICTIM came back and removed its replica that had moved meanwhile (2 containers of $JOB)"

coordinator_of() {  # coordinator_of N JOB: the coordinator's PeerId in node N's copy of the job
  veil_at "$1" job status "$2" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["coordinator"])'
}
COORD=""
for n in 1 2 3; do [[ $(coordinator_of $n "$JOB") == $(node_field $n peer_id) ]] && COORD=$n; done
[[ -n $COORD ]] || fail "no node coordinates $JOB"
COORD_PEER=$(node_field "$COORD" peer_id)
replica_nodes "$COORD" "$JOB" | grep -q "$COORD_PEER" || fail "the coordinator of $JOB runs none of its replicas"
# Every holder's copy is current again (the coordinator pushes every change, and every 10 s).
same_copy() {
  [[ "$(veil_at "$1" job status "$JOB" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["placement"])')" == \
     "$(veil_at "$COORD" job status "$JOB" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["placement"])')" ]]
}
for _ in $(seq 60); do same_copy 1 && same_copy 2 && same_copy 3 && break; sleep 0.5; done
same_copy 1 && same_copy 2 && same_copy 3 || fail "the holders' copies of $JOB differ from the coordinator's"
SURVIVORS=()
for n in 1 2 3; do [[ $n != "$COORD" ]] && SURVIVORS+=("$n"); done
KILLED_AT=$(date +%s.%N)
kill -KILL "$(node_pid "$COORD")"
moved() {  # moved N: node N's status of $JOB names another coordinator and 2 running replicas, none on the old one
  veil_at "$1" job status "$JOB" -o json 2>/dev/null | python3 -c '
import json,sys; d=json.load(sys.stdin); old=sys.argv[1]
run=[p for p in d["placement"] if p["state"]=="running"]
sys.exit(0 if d["coordinator"]!=old and len(run)==2 and all(p["node"]!=old for p in run) else 1)' "$COORD_PEER"
}
for _ in $(seq 600); do moved "${SURVIVORS[0]}" && moved "${SURVIVORS[1]}" && break; sleep 0.5; done
moved "${SURVIVORS[0]}" && moved "${SURVIVORS[1]}" ||
  fail "no successor rescheduled $JOB: $(veil_at "${SURVIVORS[0]}" job status "$JOB" -o json)"
TOOK=$(python3 -c "print(round($(date +%s.%N)-$KILLED_AT,1))")
NEW_PEER=$(veil_at "${SURVIVORS[0]}" job status "$JOB" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["coordinator"])')
NEW=$(node_of_peer "$NEW_PEER") || fail "the new coordinator $NEW_PEER is no node of the test"
for ep in $(veil_at "$NEW" job status "$JOB" -o json | python3 -c 'import json,sys; print(" ".join(p["endpoint"] for p in json.load(sys.stdin)["placement"] if p["state"]=="running"))'); do
  curl -sf --max-time 5 "http://$ep/" >/dev/null || fail "replica at $ep does not answer after the fail-over"
done
python3 -c "import sys; sys.exit(0 if $TOOK <= $BOUND_S + 60 else 1)" ||
  fail "the fail-over took $TOOK s, beyond the SWIM bound $BOUND_S s + 60 s for the placement"
pass "coordinator (node $COORD) killed; node $NEW took $JOB over and rescheduled its replica in $TOOK s; both survivors say so"

# The old coordinator returns: at its first push a holder answers with the higher term, and it
# steps down; its own copy of the replica, moved meanwhile, is stopped.
restart_node "$COORD"
stepped_down() {
  veil_at "$COORD" job status "$JOB" -o json 2>/dev/null | python3 -c '
import json,sys; d=json.load(sys.stdin)
sys.exit(0 if d["coordinator"]==sys.argv[1] and d["handovers"] and any("superseded" in e["message"] for e in d["events"]) else 1)' "$NEW_PEER"
}
for _ in $(seq 120); do stepped_down && [[ $(running_containers "$JOB") == 2 ]] && break; sleep 0.5; done
stepped_down || fail "node $COORD came back and did not step down: $(veil_at "$COORD" job status "$JOB" -o json)"
[[ $(running_containers "$JOB") == 2 ]] || fail "$(running_containers "$JOB") containers of $JOB run after node $COORD came back (2 wanted)"
moved "$NEW" || fail "the job changed after the old coordinator came back: $(veil_at "$NEW" job status "$JOB" -o json)"
veil_at "$COORD" job stop "$JOB" >/dev/null 2>&1 && fail "node $COORD stopped a job it no longer coordinates"
pass "node $COORD came back, stepped down (term $(veil_at "$COORD" job status "$JOB" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["term"])') of $NEW_PEER), 2 containers of $JOB"

for job in "$JOB" "$JOB2"; do
  c=$(node_of_peer "$(veil_at "$NEW" job status "$job" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["coordinator"])')")
  veil_at "$c" job stop "$job" >/dev/null
done
pass "all steps"
