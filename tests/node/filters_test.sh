#!/usr/bin/env bash
# Public placement filters on a real cluster (docs/jobspec.md, "Constraints, spread and
# volumes"): anvil, a dockerd of our own with a local registry and three `veil node run` on
# loopback (scripts/lib/cluster.sh), each with its own labels and host volumes:
#   node 1: region=eu zone=a, volumes data (a file "from node one") and probe
#   node 2: region=eu zone=b
#   node 3: region=us zone=a, volumes data (a file "from node three") and probe
#   1. a 2-replica job constrained to region = eu runs on nodes 1 and 2, never on node 3; its
#      `job run --wait` shows the image pull its node reports (the engine lacks the image);
#   2. a 2-replica job with spread_over: zone among all three runs in zones a and b (node 2
#      and one of 1, 3 — without spread, 1 and 3 share zone a);
#   3. a batch job mounting volume data runs on node 1 or 3 and prints the file it read there;
#      one asking for a volume no node offers waits, saying why, and `veil job validate
#      --cluster` names the volume at its line;
#   4. /v1/nodes shows every node's labels and volumes;
#   5. a service whose exec health check fails on the node it was placed on is restarted there,
#      given up after its restart attempts, and rescheduled by a new round onto the other node
#      offering its volume, where the check passes (nodes 1 and 3 also offer volume probe; the
#      test creates probe/ready on the node the replica was *not* placed on);
#   6. versions: a changed spec replaces the running job of its name as version 2, and `job revert`
#      runs version 1's spec again as version 3 (`job history` lists them);
#   7. a rolling update of 3 replicas with an HTTP check, one at a time (never fewer than 2
#      healthy), a version whose check never passes, rolled back by auto_revert, and a revert
#      during a roll.
# Usage: filters_test.sh PATH_TO_VEIL. Exits 77 (skipped) without Docker, unless
# VEIL_REQUIRE_DOCKER=1, where that is a failure.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VEIL="$(realpath "$1")" CLUSTER_WORK="$(mktemp -d -t veil-filters.XXXXXX)"
# shellcheck source=../../scripts/lib/cluster.sh
source "$ROOT/scripts/lib/cluster.sh"
trap cluster_finish EXIT
skip_without_docker filters
pass() { echo "filters: ok: $*"; }
fail() { echo "filters: FAIL: $*" >&2; exit 1; }

start_anvil
start_docker_and_registry
init_cluster --allow-image "$IMAGE_DIGEST"
mkdir -p "$CLUSTER_WORK/vol-1" "$CLUSTER_WORK/vol-3" "$CLUSTER_WORK/probe-1" "$CLUSTER_WORK/probe-3"
echo "from node one" >"$CLUSTER_WORK/vol-1/greeting.txt"
echo "from node three" >"$CLUSTER_WORK/vol-3/greeting.txt"
start_node 1 VEIL_NODE_LABELS=region=eu,zone=a VEIL_NODE_HOST_VOLUMES="data=$CLUSTER_WORK/vol-1,probe=$CLUSTER_WORK/probe-1"
start_node 2 VEIL_NODE_LABELS=region=eu,zone=b
start_node 3 VEIL_NODE_LABELS=region=us,zone=a VEIL_NODE_HOST_VOLUMES="data=$CLUSTER_WORK/vol-3,probe=$CLUSTER_WORK/probe-3"
for n in 1 2 3; do wait_for_api "$n" || fail "node $n API did not come up"; done
wait_for_members 1 3 || fail "node 1 does not see 3 alive members"
wait_for_telemetry 1 3 || fail "node 1 did not receive telemetry from 3 members"
declare -A NODE_OF  # peer id -> node number
for n in 1 2 3; do NODE_OF[$(node_field "$n" peer_id)]=$n; done

# 4 (first, it is what the rest relies on): the labels and volumes every node published.
veil_at 2 node ls -o json >"$CLUSTER_WORK/nodes.json" || fail "node ls"
python3 - "$CLUSTER_WORK/nodes.json" "$(node_field 1 peer_id)" "$(node_field 3 peer_id)" <<'PY' || fail "node ls labels: $(cat "$CLUSTER_WORK/nodes.json")"
import json, sys
nodes = {n["peer_id"]: n for n in json.load(open(sys.argv[1]))}
assert sorted(n["labels"]["region"] for n in nodes.values()) == ["eu", "eu", "us"], nodes
assert nodes[sys.argv[2]]["volumes"] == ["data", "probe"] and nodes[sys.argv[3]]["volumes"] == ["data", "probe"], nodes
assert sum(len(n["volumes"]) for n in nodes.values()) == 4, nodes
PY
pass "/v1/nodes on node 2 shows each node's signed labels and volumes"

job_spec() {  # job_spec FILE NAME REPLICAS EXTRA_YAML
  write_web_job "$1" "$2" "$3"
  printf '%s\n' "$4" >>"$1"
}
nodes_of() {  # nodes_of STATUS_JSON: the node numbers of its running replicas, sorted
  local peer out=()
  for peer in $(json "$1" '" ".join(p["node"] for p in d["placement"] if p["state"] in ("running", "succeeded"))'); do
    out+=("${NODE_OF[$peer]:-?}")
  done
  printf '%s\n' "${out[@]}" | sort | paste -sd' ' -
}

# --wait returns once the job runs, which may be before its last replica reports: wait for all.
wait_running() {  # wait_running N JOB COUNT OUT_JSON
  local deadline=$((SECONDS + 120))
  until veil_at "$1" job status "$2" -o json >"$4" 2>/dev/null &&
    [[ $(json "$4" 'sum(p["state"]=="running" for p in d["placement"])') == "$3" ]]; do
    ((SECONDS < deadline)) || fail "$2 does not run $3 replicas within 120 s: $(cat "$4")"
    sleep 1
  done
}

# 1. region = eu: nodes 1 and 2 only.
job_spec "$CLUSTER_WORK/eu.yaml" eu 2 'constraints:
  - {attribute: region, operator: "=", value: eu}'
veil_at 1 job run "$CLUSTER_WORK/eu.yaml" --wait --timeout 300 -o json >"$CLUSTER_WORK/eu.json" 2>"$CLUSTER_WORK/eu.wait" ||
  { cat "$CLUSTER_WORK/eu.wait"; fail "job run eu --wait"; }
wait_running 1 eu 2 "$CLUSTER_WORK/eu.json"
[[ $(nodes_of "$CLUSTER_WORK/eu.json") == "1 2" ]] || fail "region = eu ran on nodes '$(nodes_of "$CLUSTER_WORK/eu.json")', not 1 and 2"
veil_at 1 job status eu -o json >"$CLUSTER_WORK/eu-3.json" || fail "job status eu on node 1"
python3 - "$CLUSTER_WORK/eu-3.json" "$(node_field 3 peer_id)" <<'PY' || fail "eu's rounds named node 3 as an input: $(cat "$CLUSTER_WORK/eu-3.json")"
import json, sys
d, node3 = json.load(open(sys.argv[1])), sys.argv[2]
# Node 3 was never an input of any round.
inputs = [n["peer"] if isinstance(n, dict) else n for r in d["rounds"] for n in r["nodes"]]
assert d["rounds"] and inputs and node3 not in inputs, (node3, inputs)
PY
pass "a job constrained to region = eu runs on nodes 1 and 2; node 3 was never an input"
# The first job pulls the image (the registry has it, the engine not): --wait showed the pull
# as its node reported it, and the job's events say when it ended.
grep -Eq "pulling image $IMAGE_REPO(:1)?@sha256" "$CLUSTER_WORK/eu.wait" ||
  fail "job run --wait showed no image pull: $(cat "$CLUSTER_WORK/eu.wait")"
grep -Eq "image $IMAGE_REPO(:1)?@sha256:[0-9a-f]{64} pulled \([0-9]+/[0-9]+ layers.*\) in [0-9.]+ s" "$CLUSTER_WORK/eu.wait" ||
  fail "job run --wait did not say the pull ended: $(cat "$CLUSTER_WORK/eu.wait")"
pass "job run --wait showed the replica's image pull and its end"

# 2. spread_over: zone — distinct zones, so node 2 (zone b) and one of nodes 1, 3 (zone a).
job_spec "$CLUSTER_WORK/spread.yaml" spread 2 'spread_over: zone'
veil_at 2 job run "$CLUSTER_WORK/spread.yaml" --wait --timeout 300 -o json >"$CLUSTER_WORK/spread.json" 2>"$CLUSTER_WORK/spread.wait" ||
  { cat "$CLUSTER_WORK/spread.wait"; fail "job run spread --wait"; }
wait_running 2 spread 2 "$CLUSTER_WORK/spread.json"
SPREAD=$(nodes_of "$CLUSTER_WORK/spread.json")
[[ $SPREAD == "1 2" || $SPREAD == "2 3" ]] || fail "spread_over: zone ran on nodes '$SPREAD' (zones must differ)"
pass "spread_over: zone placed its replicas on nodes $SPREAD, zones a and b"

# 3. A volume: the batch replica reads the file its node offers.
cat >"$CLUSTER_WORK/reader.yaml" <<YAML
name: reader
type: batch
image: $IMAGE_REPO:1@$IMAGE_DIGEST
resources: {cpu: 10m, memory: 16Mi}
command: ["cat", "/in/greeting.txt"]
volumes:
  - {source: data, path: /in, read_only: true}
YAML
veil_at 1 job validate "$CLUSTER_WORK/reader.yaml" --cluster >/dev/null || fail "validate --cluster refused reader.yaml"
veil_at 2 job run "$CLUSTER_WORK/reader.yaml" -o json >/dev/null || fail "job run reader"
deadline=$((SECONDS + 240))
until veil_at 2 job status reader -o json >"$CLUSTER_WORK/reader.json" 2>/dev/null &&
  [[ $(json "$CLUSTER_WORK/reader.json" 'd["state"]') == succeeded ]]; do
  ((SECONDS < deadline)) || fail "the volume job did not succeed in 240 s: $(cat "$CLUSTER_WORK/reader.json")"
  sleep 1
done
READER_NODE=$(nodes_of "$CLUSTER_WORK/reader.json")
[[ $READER_NODE == 1 || $READER_NODE == 3 ]] || fail "the volume job ran on node '$READER_NODE', which offers no volume"
veil_at 2 job logs reader -o json >"$CLUSTER_WORK/reader-logs.json" || fail "job logs reader"
WANT=$([[ $READER_NODE == 1 ]] && echo "from node one" || echo "from node three")
grep -q "$WANT" "$CLUSTER_WORK/reader-logs.json" || fail "the replica on node $READER_NODE did not print '$WANT': $(cat "$CLUSTER_WORK/reader-logs.json")"
pass "a batch job read /in/greeting.txt from node $READER_NODE's volume data ('$WANT') and succeeded"

# A volume nobody offers: validate --cluster names it at its line; a submitted job waits, saying why.
sed 's/source: data/source: archive/; s/name: reader/name: orphan/' "$CLUSTER_WORK/reader.yaml" >"$CLUSTER_WORK/orphan.yaml"
if veil_at 1 job validate "$CLUSTER_WORK/orphan.yaml" --cluster >"$CLUSTER_WORK/orphan.validate" 2>&1; then
  fail "validate --cluster accepted a volume no node offers"
fi
grep -q "orphan.yaml:7:14: volumes\[0\].source: no live node offers host volume 'archive' (offered: data, probe)" "$CLUSTER_WORK/orphan.validate" ||
  fail "validate --cluster: $(cat "$CLUSTER_WORK/orphan.validate")"
veil_at 1 job validate "$CLUSTER_WORK/orphan.yaml" >/dev/null || fail "plain validate refused a spec that is well-formed"
veil_at 1 job run "$CLUSTER_WORK/orphan.yaml" -o json >/dev/null || fail "job run orphan"
deadline=$((SECONDS + 60))
until veil_at 1 job status orphan -o json >"$CLUSTER_WORK/orphan.json" 2>/dev/null &&
  grep -q "no live node matches the job's constraints and volumes" "$CLUSTER_WORK/orphan.json"; do
  ((SECONDS < deadline)) || fail "orphan does not say why it waits: $(cat "$CLUSTER_WORK/orphan.json")"
  sleep 1
done
[[ $(json "$CLUSTER_WORK/orphan.json" 'd["state"]') == pending ]] || fail "orphan is $(json "$CLUSTER_WORK/orphan.json" 'd["state"]'), not pending"
pass "a volume no node offers: validate --cluster names volumes[0].source at line 7; the submitted job is pending and says why"

# 5. A failing health check: restarted on its node, given up, rescheduled where it passes.
job_spec "$CLUSTER_WORK/mover.yaml" mover 1 'volumes:
  - {source: probe, path: /probe, read_only: true}
health:
  exec: [sh, -c, "test -e /probe/ready"]
  interval: 500ms
  timeout: 5s
  grace: 0s
  failures: 2
restart: {attempts: 1, interval: 10m, delay: 1s, mode: fail}
reschedule: {attempts: 2, interval: 1h}'
# An exec check runs inside the container's CPU limit, and starting it (runc's exec) takes tens
# of milliseconds of CPU: under 10m of CPU it takes seconds.
sed -i 's/cpu: 10m/cpu: 250m/' "$CLUSTER_WORK/mover.yaml"
veil_at 1 job run "$CLUSTER_WORK/mover.yaml" -o json >/dev/null || fail "job run mover"
deadline=$((SECONDS + 120))
FIRST=""
until [[ -n $FIRST ]]; do
  ((SECONDS < deadline)) || fail "mover was not placed in 120 s: $(cat "$CLUSTER_WORK/mover.json")"
  sleep 0.5
  veil_at 1 job status mover -o json >"$CLUSTER_WORK/mover.json" 2>/dev/null || continue
  FIRST=$(json "$CLUSTER_WORK/mover.json" '" ".join(p["node"] for p in d["placement"] if p.get("node"))')
done
FIRST_NODE=${NODE_OF[$FIRST]:-?}
[[ $FIRST_NODE == 1 || $FIRST_NODE == 3 ]] || fail "mover was placed on node '$FIRST_NODE', which offers no volume probe"
OTHER_NODE=$((4 - FIRST_NODE))
touch "$CLUSTER_WORK/probe-$OTHER_NODE/ready"
deadline=$((SECONDS + 180))
until veil_at 1 job status mover -o json >"$CLUSTER_WORK/mover.json" 2>/dev/null &&
  [[ $(nodes_of "$CLUSTER_WORK/mover.json") == "$OTHER_NODE" ]]; do
  ((SECONDS < deadline)) || fail "mover is not running on node $OTHER_NODE within 180 s: $(cat "$CLUSTER_WORK/mover.json")"
  sleep 1
done
python3 - "$CLUSTER_WORK/mover.json" "$FIRST" <<'PY' || fail "mover's events do not tell restart, give-up and reschedule: $(cat "$CLUSTER_WORK/mover.json")"
import json, sys
d, first = json.load(open(sys.argv[1])), sys.argv[2]
events = [e["message"] for e in d["events"]]
on_first = [m for m in events if m.startswith("replica 0 on " + first + ": ")]
# Starting, unhealthy, restarted (starting again), then failed: given up by the node...
assert any(": unhealthy" in m for m in on_first), on_first
assert sum(": starting" in m for m in on_first) >= 2, on_first
assert any(": failed" in m for m in on_first), on_first
gave_up = [i for i, m in enumerate(events) if m == "replica 0: " + first + " gave it up; rescheduling elsewhere"]
assert gave_up, events
# ...and a new round placed it elsewhere.
assert any(m.startswith("replica 0 placed on ") and first not in m for m in events[gave_up[0]:]), events
assert len(d["rounds"]) >= 2, d["rounds"]
PY
pass "mover's health check failed on node $FIRST_NODE: restarted there, given up, rescheduled by round $(json "$CLUSTER_WORK/mover.json" 'd["round"]') onto node $OTHER_NODE, healthy"

# 6. Versions: a changed spec under a running job's name replaces it; revert runs an old spec again.
job_spec "$CLUSTER_WORK/v1.yaml" versioned 1 'env: {RELEASE: "1"}'
job_spec "$CLUSTER_WORK/v2.yaml" versioned 1 'env: {RELEASE: "2"}'
veil_at 1 job run "$CLUSTER_WORK/v1.yaml" -o json >"$CLUSTER_WORK/v1.json" || fail "job run versioned v1"
V1_ID=$(json "$CLUSTER_WORK/v1.json" 'd["id"]')
wait_running 1 versioned 1 "$CLUSTER_WORK/versioned.json"
veil_at 1 job run "$CLUSTER_WORK/v2.yaml" -o json >"$CLUSTER_WORK/v2.json" || fail "job run versioned v2"
V2_ID=$(json "$CLUSTER_WORK/v2.json" 'd["id"]')
[[ $(json "$CLUSTER_WORK/v2.json" 'd["version"]') == 2 && $V2_ID != "$V1_ID" ]] || fail "the changed spec is not version 2: $(cat "$CLUSTER_WORK/v2.json")"
wait_running 1 versioned 1 "$CLUSTER_WORK/versioned.json"
[[ $(json "$CLUSTER_WORK/versioned.json" 'd["id"]') == "$V2_ID" ]] || fail "the name does not answer with version 2: $(cat "$CLUSTER_WORK/versioned.json")"
veil_at 1 job status "$V1_ID" -o json >"$CLUSTER_WORK/v1-after.json" || fail "job status of version 1 by id"
[[ $(json "$CLUSTER_WORK/v1-after.json" 'd["state"]') == stopped ]] || fail "version 1 still runs beside version 2: $(cat "$CLUSTER_WORK/v1-after.json")"
grep -q "replaced by version 2" "$CLUSTER_WORK/v1-after.json" || fail "version 1's events do not say it was replaced"
if veil_at 1 job revert versioned 2 >"$CLUSTER_WORK/revert-running.out" 2>&1; then fail "revert to the running version was accepted"; fi
grep -q "is the one running" "$CLUSTER_WORK/revert-running.out" || fail "revert to the running version: $(cat "$CLUSTER_WORK/revert-running.out")"
if veil_at 1 job revert versioned 9 >"$CLUSTER_WORK/revert-none.out" 2>&1; then fail "revert to version 9 was accepted"; fi
grep -q "has no version 9" "$CLUSTER_WORK/revert-none.out" || fail "revert to a version that never was: $(cat "$CLUSTER_WORK/revert-none.out")"
veil_at 1 job revert versioned 1 -o json >"$CLUSTER_WORK/v3.json" || fail "job revert versioned 1"
[[ $(json "$CLUSTER_WORK/v3.json" 'd["version"]') == 3 && $(json "$CLUSTER_WORK/v3.json" 'd["id"]') == "$V1_ID" ]] ||
  fail "revert did not run version 1's spec as version 3: $(cat "$CLUSTER_WORK/v3.json")"
wait_running 1 versioned 1 "$CLUSTER_WORK/versioned.json"
veil_at 1 job history versioned -o json >"$CLUSTER_WORK/history.json" || fail "job history"
python3 - "$CLUSTER_WORK/history.json" "$V1_ID" "$V2_ID" <<'PY' || fail "job history: $(cat "$CLUSTER_WORK/history.json")"
import json, sys
h, v1, v2 = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
assert [(v["version"], v["id"], v["cause"]) for v in h] == [(1, v1, "submitted"), (2, v2, "submitted"), (3, v1, "revert to version 1")], h
PY
veil_at 1 job status "$V2_ID" -o json >"$CLUSTER_WORK/v2-after.json" || fail "job status of version 2 by id"
[[ $(json "$CLUSTER_WORK/v2-after.json" 'd["state"]') == stopped ]] || fail "version 2 still runs beside version 3"
veil_at 1 job history versioned | grep -q "revert to version 1" || fail "job history's table does not show the revert"
pass "versioned: a changed spec ran as version 2 and stopped version 1; revert 1 ran version 1's spec as version 3 and stopped version 2; history lists all three"

# 7. A rolling update: 3 replicas with an HTTP check move from v1 to v2 one at a time, never fewer
#    than 2 healthy; a v3 whose check never passes misses its deadline and v2 comes back.
ROLL_BLOCK='update: {max_parallel: 1, min_healthy_time: 2s, healthy_deadline: 20s, auto_revert: true}
health:
  http: {path: /, port: 8080}
  interval: 1s
  timeout: 2s
  grace: 1s
  failures: 2'
job_spec "$CLUSTER_WORK/roll1.yaml" roll 3 "env: {RELEASE: \"1\"}
$ROLL_BLOCK"
job_spec "$CLUSTER_WORK/roll2.yaml" roll 3 "env: {RELEASE: \"2\"}
$ROLL_BLOCK"
job_spec "$CLUSTER_WORK/roll3.yaml" roll 3 "env: {RELEASE: \"3\"}
${ROLL_BLOCK/path: \//path: /missing}"
veil_at 1 job run "$CLUSTER_WORK/roll1.yaml" -o json >"$CLUSTER_WORK/roll1.json" || fail "job run roll v1"
R1=$(json "$CLUSTER_WORK/roll1.json" 'd["id"]')
wait_running 1 "$R1" 3 "$CLUSTER_WORK/roll1-status.json"
veil_at 1 job run "$CLUSTER_WORK/roll2.yaml" -o json >"$CLUSTER_WORK/roll2.json" || fail "job run roll v2"
R2=$(json "$CLUSTER_WORK/roll2.json" 'd["id"]')
healthy() { json "$1" 'sum(p["state"] == "running" for p in d["placement"])'; }
MIN_HEALTHY=3 deadline=$((SECONDS + 240))
while :; do
  ((SECONDS < deadline)) || fail "the rolling update to v2 did not finish in 240 s: $(cat "$CLUSTER_WORK/roll2-status.json")"
  veil_at 1 job status "$R1" -o json >"$CLUSTER_WORK/roll1-status.json" 2>/dev/null || continue
  veil_at 1 job status "$R2" -o json >"$CLUSTER_WORK/roll2-status.json" 2>/dev/null || continue
  NOW=$(($(healthy "$CLUSTER_WORK/roll1-status.json") + $(healthy "$CLUSTER_WORK/roll2-status.json")))
  ((NOW < MIN_HEALTHY)) && MIN_HEALTHY=$NOW
  [[ $(healthy "$CLUSTER_WORK/roll2-status.json") == 3 && $(json "$CLUSTER_WORK/roll1-status.json" 'd["state"]') == stopped ]] && break
  sleep 0.3
done
((MIN_HEALTHY >= 2)) || fail "only $MIN_HEALTHY healthy replicas at one point of the rolling update"
grep -q "rolling update complete" "$CLUSTER_WORK/roll2-status.json" || fail "v2's events do not say the update completed"
[[ $(json "$CLUSTER_WORK/roll2-status.json" '[len(r["slots"]) for r in d["rounds"]] == [1, 1, 1]') == True ]] ||
  fail "v2 was not placed one replica per round: $(cat "$CLUSTER_WORK/roll2-status.json")"
veil_at 1 job run "$CLUSTER_WORK/roll3.yaml" -o json >"$CLUSTER_WORK/roll3.json" || fail "job run roll v3"
R3=$(json "$CLUSTER_WORK/roll3.json" 'd["id"]')
deadline=$((SECONDS + 120))
until veil_at 1 job status "$R3" -o json >"$CLUSTER_WORK/roll3-status.json" 2>/dev/null &&
  [[ $(json "$CLUSTER_WORK/roll3-status.json" 'd["state"]') == stopped ]]; do
  ((SECONDS < deadline)) || fail "v3 was not rolled back within 120 s: $(cat "$CLUSTER_WORK/roll3-status.json")"
  sleep 1
done
grep -q "rolling update failed" "$CLUSTER_WORK/roll3-status.json" || fail "v3's events do not say why it stopped"
wait_running 1 roll 3 "$CLUSTER_WORK/roll-after.json"
python3 - "$CLUSTER_WORK/roll-after.json" "$R2" <<'PY' || fail "after the rollback: $(cat "$CLUSTER_WORK/roll-after.json")"
import json, sys
d, r2 = json.load(open(sys.argv[1])), sys.argv[2]
assert d["id"] == r2 and d["version"] == 4, (d["id"], d["version"])
assert d["history"][-1]["cause"] == "auto revert to version 2", d["history"]
PY
# A revert while a roll is under way (auto_revert off) rolls it back by hand.
job_spec "$CLUSTER_WORK/roll5.yaml" roll 3 "env: {RELEASE: \"5\"}
${ROLL_BLOCK/auto_revert: true/auto_revert: false}"
veil_at 1 job run "$CLUSTER_WORK/roll5.yaml" -o json >"$CLUSTER_WORK/roll5.json" || fail "job run roll v5"
R5=$(json "$CLUSTER_WORK/roll5.json" 'd["id"]')
[[ $(json "$CLUSTER_WORK/roll5.json" 'd["version"]') == 5 ]] || fail "roll5 is not version 5: $(cat "$CLUSTER_WORK/roll5.json")"
veil_at 1 job revert roll 4 -o json >"$CLUSTER_WORK/roll6.json" || fail "job revert roll 4 during the roll"
[[ $(json "$CLUSTER_WORK/roll6.json" 'd["id"]') == "$R2" && $(json "$CLUSTER_WORK/roll6.json" 'd["version"]') == 6 ]] ||
  fail "the revert during the roll did not bring v2 back as version 6: $(cat "$CLUSTER_WORK/roll6.json")"
veil_at 1 job status "$R5" -o json >"$CLUSTER_WORK/roll5-status.json" || fail "job status of v5"
[[ $(json "$CLUSTER_WORK/roll5-status.json" 'd["state"]') == stopped ]] || fail "v5 still runs after the revert"
wait_running 1 roll 3 "$CLUSTER_WORK/roll-after.json"
[[ $(json "$CLUSTER_WORK/roll-after.json" 'd["history"][-1]["cause"]') == "revert to version 4" ]] ||
  fail "history after the revert: $(cat "$CLUSTER_WORK/roll-after.json")"
pass "roll: v1 -> v2 one replica at a time (never fewer than $MIN_HEALTHY healthy); v3's check never passed, so v2 runs again as version 4; a revert during v5's roll brought v2 back as version 6"
