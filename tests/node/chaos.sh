#!/usr/bin/env bash
# Chaos soak (ctest `node.chaos`, label chaos; docs/node.md "Fail-over"): five nodes in network
# namespaces, a 3-of-5 committee from their DKG; for VEIL_CHAOS_SECONDS (default 300) jobs are
# submitted through random nodes while random nodes are killed (SIGKILL) and restarted, or cut
# off and healed — never more than two at once, so the committee keeps its threshold. Then
# everything is healed and restarted, and once the cluster is quiet one JSON line is printed:
#   {"jobs_submitted", "jobs_running", "jobs_pending", "jobs_lost", "duplicate_replicas_at_rest",
#    "max_reschedule_s", "no_duplicates_after_quiet_s", ...}
# It fails when a job was lost (no node answers for it), when a job does not run all its
# replicas once the cluster had time to settle (up to 240 s after the soak, then 35-125 s more:
# a liveness failure, like jobs stuck `scheduling` behind a stale take-over), or when a job runs
# more copies than it asks for once the cluster is quiet (checked from 35 s after every job ran
# its replicas, for up to 90 s more); the extra containers are then named (their names carry the
# node), and the jobs short of replicas print their last events.
# Usage: chaos.sh PATH_TO_VEIL. Exits 77 (skipped) without root or Docker.
set -euo pipefail
VEIL="$(realpath "$1")"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CLUSTER_WORK="$(mktemp -d -t veil-chaos.XXXXXX)"
export VEIL_CLUSTER_PARAMS=${VEIL_CLUSTER_PARAMS:-test}
export VEIL_CLUSTER_NODES=5
SOAK_S=${VEIL_CHAOS_SECONDS:-300}
SEED=${VEIL_CHAOS_SEED:-$RANDOM}
RANDOM=$SEED
# shellcheck source=../../scripts/lib/cluster.sh
source "$ROOT/scripts/lib/cluster.sh"
# shellcheck source=../../scripts/lib/netns.sh
source "$ROOT/scripts/lib/netns.sh"
netns_test_begin chaos
say() { echo "chaos: $(date +%T) $*"; }

ANVIL_HOST="$SUBNET.254" start_anvil
start_docker_and_registry
# shellcheck disable=SC2046
init_cluster --allow-image "$IMAGE_DIGEST" $(node_address_flags)
ALL="1 2 3 4 5"
for n in $ALL; do start_node "$n"; done
for n in $ALL; do wait_for_api "$n" || fail "node $n API did not come up"; done
for n in $ALL; do wait_for_members "$n" 5 || fail "node $n does not see 5 alive members"; done
for n in $ALL; do wait_for_telemetry "$n" 5 || fail "node $n has no telemetry from 5 members"; done
say "5 nodes up; soaking for $SOAK_S s (seed $SEED)"

# Node states: up, down (killed, restart due at UNTIL_n), cut (partitioned, heal due at UNTIL_n).
declare -A STATE UNTIL
for n in $ALL; do STATE[$n]=up; done
troubled() { local c=0 n; for n in $ALL; do [[ ${STATE[$n]} != up ]] && c=$((c + 1)); done; echo "$c"; }
random_up() {
  local ups=() n
  for n in $ALL; do [[ ${STATE[$n]} == up ]] && ups+=("$n"); done
  ((${#ups[@]})) && echo "${ups[$((RANDOM % ${#ups[@]}))]}"
}
SUBMITTED="$CLUSTER_WORK/submitted"
SAMPLES="$CLUSTER_WORK/samples"
: >"$SUBMITTED"
: >"$SAMPLES"
submit() {
  local n k=$1 replicas=$((1 + RANDOM % 2))
  n=$(random_up) || return 0
  write_web_job "$CLUSTER_WORK/chaos-$k.yaml" "chaos-$k" "$replicas"
  if timeout 30 ip netns exec "$NS_PREFIX-$n" "$VEIL" --config "$CLUSTER_WORK/cluster/node-$n/node.yaml" \
    job run "$CLUSTER_WORK/chaos-$k.yaml" -o json >"$CLUSTER_WORK/chaos-$k.json" 2>/dev/null; then
    echo "$(json "$CLUSTER_WORK/chaos-$k.json" 'd["id"]') $replicas chaos-$k node-$n" >>"$SUBMITTED"
  else
    say "submitting chaos-$k through node $n failed (it may have just been cut off)"
  fi
}
# One sample of what the cluster says: time, then per job its id, running replicas and asked.
sample() {
  local n
  n=$(random_up) || return 0
  timeout 10 ip netns exec "$NS_PREFIX-$n" "$VEIL" --config "$CLUSTER_WORK/cluster/node-$n/node.yaml" job ls -o json 2>/dev/null |
    python3 -c '
import json, sys, time
jobs = json.load(sys.stdin)
print(round(time.time(), 1), " ".join("%s:%d:%d" % (j["id"], sum(p["state"] == "running" for p in j["placement"]), j["replicas"]) for j in jobs))
' >>"$SAMPLES" 2>/dev/null || true
}

started=$(date +%s)
k=0
next_submit=$started next_chaos=$((started + 15)) next_sample=$started
while (($(date +%s) < started + SOAK_S)); do
  now=$(date +%s)
  for n in $ALL; do
    [[ ${STATE[$n]} == up || $now -lt ${UNTIL[$n]} ]] && continue
    if [[ ${STATE[$n]} == down ]]; then
      start_node "$n"
      say "node $n restarted"
    else
      heal "$n"
      say "node $n healed"
    fi
    STATE[$n]=up
  done
  if ((now >= next_submit)); then
    k=$((k + 1))
    submit "$k"
    next_submit=$((now + 6 + RANDOM % 6))
  fi
  if ((now >= next_chaos)) && (($(troubled) < 2)); then
    victim=$(random_up)
    if ((RANDOM % 2)); then
      kill -KILL "$(node_pid "$victim")" 2>/dev/null || true
      STATE[$victim]=down
      UNTIL[$victim]=$((now + 15 + RANDOM % 20))
      say "node $victim killed (back in $((UNTIL[$victim] - now)) s)"
    else
      partition "$victim"
      STATE[$victim]=cut
      UNTIL[$victim]=$((now + 20 + RANDOM % 25))
      say "node $victim cut off (healed in $((UNTIL[$victim] - now)) s)"
    fi
    next_chaos=$((now + 15 + RANDOM % 15))
  fi
  if ((now >= next_sample)); then
    sample
    next_sample=$((now + 2))
  fi
  sleep 1
done

# Quiet: everyone back, then wait for every submitted job to run what it asks for.
for n in $ALL; do
  if [[ ${STATE[$n]} == down ]]; then start_node "$n"; elif [[ ${STATE[$n]} == cut ]]; then heal "$n"; fi
  STATE[$n]=up
done
quiet_at=$(date +%s)
say "soak over after $k submissions; every node back, waiting for the cluster to settle"
for n in $ALL; do wait_for_api "$n" || fail "node $n did not come back"; done
say "every API answers ($(($(date +%s) - quiet_at)) s)"
for n in $ALL; do wait_for_members "$n" 5 || fail "node $n does not see 5 alive members after the soak"; done
say "every node sees 5 alive members ($(($(date +%s) - quiet_at)) s)"
at_rest() {
  veil_at 1 job ls -o json >"$CLUSTER_WORK/final.json" 2>/dev/null || return 1
  python3 - "$CLUSTER_WORK/final.json" "$SUBMITTED" <<'PY'
import json, sys
jobs = {j["id"]: j for j in json.load(open(sys.argv[1]))}
for line in open(sys.argv[2]):
    job_id, replicas = line.split()[:2]
    j = jobs.get(job_id)
    if j is None or sum(p["state"] == "running" for p in j["placement"]) != int(replicas):
        sys.exit(1)
PY
}
# Bounded by the clock, not by tries: each try may wait out an API timeout (10 s).
settle_deadline=$(($(date +%s) + 240)) next_note=$(($(date +%s) + 30))
until at_rest || (($(date +%s) >= settle_deadline)); do
  sample
  if (($(date +%s) >= next_note)); then
    say "still settling ($(($(date +%s) - quiet_at)) s after the soak)"
    next_note=$(($(date +%s) + 30))
  fi
  sleep 1
done
say "settled check done ($(($(date +%s) - quiet_at)) s after the soak)"
if ! at_rest; then
  say "not every job is running all its replicas $(($(date +%s) - quiet_at)) s after the soak; their last events:"
  python3 - "$CLUSTER_WORK/final.json" "$SUBMITTED" <<'PY' | while read -r id; do
import json, sys
jobs = {j["id"]: j for j in json.load(open(sys.argv[1]))}
for line in open(sys.argv[2]):
    job_id, replicas = line.split()[:2]
    j = jobs.get(job_id)
    if j is None or sum(p["state"] == "running" for p in j["placement"]) != int(replicas):
        print(job_id)
PY
    veil_at 1 job status "$id" -o json 2>/dev/null | python3 -c '
import json, sys
j = json.load(sys.stdin)
print("chaos:   %s %s (%s) coordinator %s term %s" % (j["name"], j["id"][:12], j["state"], j["coordinator"][-8:], j["term"]))
for e in j.get("events", [])[-6:]:
    print("chaos:     " + e.get("message", ""))' || say "  $id: no node answers for it"
  done
fi
# Executors re-report every 30 s: a superseded copy goes at its node's first report after it
# reaches the coordinator again (docs/node.md: the window is the cut-off plus up to 30 s, and
# the reconnection). Wait that long, then up to 90 s more for the last copies to go.
duplicates_now() {
  local total=0 id replicas running
  while read -r id replicas _; do
    running=$(/usr/bin/docker -H "unix://$VEIL_DOCKER_SOCKET" ps -q --filter "label=veil.job=${id:0:32}" | wc -l)
    if ((running > replicas)); then total=$((total + running - replicas)); fi
  done <"$SUBMITTED"
  echo "$total"
}
sleep 35
for _ in $(seq 90); do [[ $(duplicates_now) == 0 ]] && break; sleep 1; done
CLEARED_S=$(($(date +%s) - quiet_at))
sample
veil_at 1 job ls -o json >"$CLUSTER_WORK/final.json" || fail "job ls on node 1 after the soak"
# `job ls` keeps what the members answer within a few seconds; a job it lacks counts as lost
# only when no node answers `job status` for it either (each asks the job's holders).
python3 - "$CLUSTER_WORK/final.json" "$SUBMITTED" >"$CLUSTER_WORK/unlisted" <<'PY'
import json, sys
listed = {j["id"] for j in json.load(open(sys.argv[1]))}
for line in open(sys.argv[2]):
    if line.split() and line.split()[0] not in listed:
        print(line.split()[0])
PY
while read -r id; do
  for n in $ALL; do
    if veil_at "$n" job status "$id" -o json >"$CLUSTER_WORK/status-$id.json" 2>/dev/null; then
      say "job ${id:0:12} missing from node 1's list; node $n answers for it"
      python3 - "$CLUSTER_WORK/final.json" "$CLUSTER_WORK/status-$id.json" <<'PY'
import json, sys
jobs = json.load(open(sys.argv[1]))
jobs.append(json.load(open(sys.argv[2])))
json.dump(jobs, open(sys.argv[1], "w"))
PY
      break
    fi
  done
done <"$CLUSTER_WORK/unlisted"

RESULT=$(python3 - "$CLUSTER_WORK/final.json" "$SUBMITTED" "$SAMPLES" "$VEIL_DOCKER_SOCKET" "$SOAK_S" "$SEED" "$CLEARED_S" <<'PY'
import json, subprocess, sys
final, submitted_file, samples_file, socket, soak_s, seed, cleared_s = sys.argv[1:]
jobs = {j["id"]: j for j in json.load(open(final))}
submitted = [line.split() for line in open(submitted_file) if line.strip()]
running = pending = lost = duplicates = 0
for job_id, replicas, *_ in submitted:
    replicas = int(replicas)
    containers = subprocess.run(["/usr/bin/docker", "-H", "unix://" + socket, "ps", "-q", "--filter", "label=veil.job=" + job_id[:32]],
                                capture_output=True, text=True).stdout.split()
    duplicates += max(0, len(containers) - replicas)
    j = jobs.get(job_id)
    if j is None:
        lost += 1
    elif j["state"] == "running" and sum(p["state"] == "running" for p in j["placement"]) == replicas:
        running += 1
    else:
        pending += 1
# Reschedule time: for each job, after it first ran all its replicas, the longest stretch of
# samples in which fewer ran (until they all ran again, or the last sample).
gaps = {}
first_full, short_since = {}, {}
for line in open(samples_file):
    parts = line.split()
    if not parts:
        continue
    t = float(parts[0])
    for item in parts[1:]:
        job_id, run, want = item.rsplit(":", 2)
        run, want = int(run), int(want)
        if run >= want:
            first_full.setdefault(job_id, t)
            if job_id in short_since:
                gaps[job_id] = max(gaps.get(job_id, 0), t - short_since.pop(job_id))
        elif job_id in first_full and job_id not in short_since:
            short_since[job_id] = t
print(json.dumps({"jobs_submitted": len(submitted), "jobs_running": running, "jobs_pending": pending,
                  "jobs_lost": lost, "duplicate_replicas_at_rest": duplicates,
                  "max_reschedule_s": round(max(gaps.values(), default=0), 1),
                  "jobs_never_restored": len(short_since), "no_duplicates_after_quiet_s": int(cleared_s),
                  "soak_s": int(soak_s), "seed": int(seed)}))
PY
)
echo "$RESULT"
while read -r id replicas _; do
  names=$(/usr/bin/docker -H "unix://$VEIL_DOCKER_SOCKET" ps --format '{{.Names}} (up {{.RunningFor}})' --filter "label=veil.job=${id:0:32}")
  if (($(echo "$names" | grep -c .) > replicas)); then
    say "job ${id:0:12} asks for $replicas and runs: $(echo $names)"
    # What each node last said of it: who coordinates, who stepped down, which reports it took.
    for n in $ALL; do
      grep -F "${id:0:12}" "$CLUSTER_WORK/node-$n.log" | grep -v '\[sched\]' | tail -6 | sed "s/^/chaos:   node $n: /" || true
    done
  fi
done <"$SUBMITTED"
echo "$RESULT" | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["jobs_lost"] == 0 and d["duplicate_replicas_at_rest"] == 0 else 1)' ||
  fail "jobs lost or duplicated at rest (seed $SEED): $RESULT"
echo "$RESULT" | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["jobs_pending"] == 0 else 1)' ||
  fail "jobs short of replicas long after the soak (seed $SEED; their last events above): $RESULT"
pass "no job lost, every job running all its replicas, no duplicate at rest"
