#!/usr/bin/env bash
# Batched anchoring on a real cluster (docs/chain.md, "Batched anchoring"): anvil, a dockerd of
# our own with a local registry and three `veil node run` on loopback (scripts/lib/cluster.sh),
# every node with chain.anchor.batch_size 4 and batch_max_age 60s:
#   1. four jobs submitted to node 1 are anchored by ONE anchorBatch transaction: their anchors
#      share one root, with leaves 0..3 of 4, and no DeploymentAnchored event names them;
#   2. every holder's `veil job status` shows each job's root and proof;
#   3. `veil audit JOB --from-node` passes for each (the proof leads to the root, locally and by
#      the contract's verifyInclusion), and fails for a tampered proof (`--record FILE`);
#   4. a fifth job, alone, is anchored by the age trigger in a batch of 1;
#   5. the gas of the batch's receipt, per deployment, is printed (docs/chain.md records it).
# Usage: anchor_batch_test.sh PATH_TO_VEIL. Exits 77 (skipped) without Docker, unless
# VEIL_REQUIRE_DOCKER=1, where that is a failure.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VEIL="$(realpath "$1")" CLUSTER_WORK="$(mktemp -d -t veil-anchor-batch.XXXXXX)"
# shellcheck source=../../scripts/lib/cluster.sh
source "$ROOT/scripts/lib/cluster.sh"
trap cluster_finish EXIT
skip_without_docker anchor_batch
pass() { echo "anchor_batch: ok: $*"; }
fail() { echo "anchor_batch: FAIL: $*" >&2; exit 1; }

start_anvil
start_docker_and_registry
init_cluster --allow-image "$IMAGE_DIGEST"
for n in 1 2 3; do
  start_node "$n" VEIL_CHAIN_ANCHOR_BATCH_SIZE=4 VEIL_CHAIN_ANCHOR_BATCH_MAX_AGE=60s
done
for n in 1 2 3; do wait_for_api "$n" || fail "node $n API did not come up"; done
wait_for_members 1 3 || fail "node 1 does not see 3 alive members"
wait_for_telemetry 1 3 || fail "node 1 did not receive telemetry from 3 members"
pass "three nodes up with chain.anchor.batch_size 4, batch_max_age 60s"

# Waits until every job named runs and every anchor it has is anchored, on node N; the status
# JSONs in $CLUSTER_WORK/status-N-JOB.json. (A round that placed nothing, "no node fits", is
# anchored too: its agreed decision is a commitment like any other.)
wait_anchored() {  # wait_anchored N BOUND_S JOB...
  local n=$1 bound=$2; shift 2
  local deadline=$((SECONDS + bound)) job missing
  while :; do
    missing=0
    for job in "$@"; do
      veil_at "$n" job status "$job" -o json >"$CLUSTER_WORK/status-$n-$job.json" 2>/dev/null || { missing=1; continue; }
      [[ $(json "$CLUSTER_WORK/status-$n-$job.json" 'd["state"]=="running" and len(d["anchors"])>0 and all(a["state"]=="anchored" for a in d["anchors"])') == True ]] || missing=1
    done
    [[ $missing == 0 ]] && return 0
    ((SECONDS < deadline)) || return 1
    sleep 1
  done
}

# 1. Four one-replica jobs on node 1: their commitments fill batches of 4.
JOBS=(b1 b2 b3 b4)
SUBMITTED=$SECONDS
for name in "${JOBS[@]}"; do
  write_web_job "$CLUSTER_WORK/$name.yaml" "$name" 1
  veil_at 1 job run "$CLUSTER_WORK/$name.yaml" -o json >"$CLUSTER_WORK/$name.run.json" || fail "job run $name"
done
wait_anchored 1 300 "${JOBS[@]}" || fail "the four jobs' anchors were not all anchored within 300 s"
python3 - "$CLUSTER_WORK" "${JOBS[@]}" <<'PY' >"$CLUSTER_WORK/batch.txt" || fail "batches: $(cat "$CLUSTER_WORK/batch.txt")"
import json, math, sys
work, jobs = sys.argv[1], sys.argv[2:]
by_tx = {}
for j in jobs:
    d = json.load(open(f"{work}/status-1-{j}.json"))
    for a in d["anchors"]:
        assert a.get("batch_root", "").startswith("0x"), f"{j}: anchored without a batch root: {a}"
        assert 1 <= a["batch_size"] <= 4 and 0 <= a["batch_index"] < a["batch_size"], f"{j}: {a}"
        assert len(a["proof"]) == math.ceil(math.log2(a["batch_size"])) or a["batch_index"] == a["batch_size"] - 1, f"{j}: proof {a}"
        by_tx.setdefault(a["tx"], []).append((j, a))
    last = d["anchors"][-1]
    assert d["anchor"]["batch_root"] == last["batch_root"] and d["anchor"]["proof_length"] == len(last["proof"]), d["anchor"]
for tx, members in by_tx.items():
    assert len({a["batch_root"] for _, a in members}) == 1, f"tx {tx}: several roots"
    assert sorted(a["batch_index"] for _, a in members) == list(range(members[0][1]["batch_size"])), f"tx {tx}: leaves {members}"
full = [(tx, m) for tx, m in by_tx.items() if m[0][1]["batch_size"] == 4 and len({j for j, _ in m}) >= 2]
assert full, f"no anchorBatch of 4 covering several jobs: {by_tx}"
tx, m = full[0]
print(m[0][1]["batch_root"], tx, m[0][1]["block"], len(by_tx), sum(len(v) for v in by_tx.values()), len({j for j, _ in m}))
PY
read -r ROOT_HASH BATCH_TX BATCH_BLOCK TXS COMMITMENTS JOBS_IN_BATCH <"$CLUSTER_WORK/batch.txt"
pass "$COMMITMENTS commitments of four jobs anchored by $TXS anchorBatch transactions; root $ROOT_HASH (tx $BATCH_TX, block $BATCH_BLOCK) holds 4 of them from $JOBS_IN_BATCH jobs; $((SECONDS - SUBMITTED)) s after the first submission"

# No DeploymentAnchored event for them: `veil audit` without the record finds nothing to check.
for name in "${JOBS[@]}"; do
  id=$(json "$CLUSTER_WORK/status-1-$name.json" 'd["id"]')
  if veil_at 1 audit "$id" -o json >"$CLUSTER_WORK/audit-bare-$name.json" 2>&1; then
    fail "$name: an anchorCommitment event exists besides the batch: $(cat "$CLUSTER_WORK/audit-bare-$name.json")"
  fi
  [[ $(json "$CLUSTER_WORK/audit-bare-$name.json" 'len(d["deployments"])') == 0 ]] || fail "$name: anchored alone too"
done
pass "no deployment of the batch was anchored alone"

# 2. Every holder shows each job's roots and proofs (the replicated record).
same_anchors() {  # same_anchors N JOB: node N's record of JOB shows node 1's anchors
  veil_at "$1" job status "$2" -o json >"$CLUSTER_WORK/status-$1-$2.json" 2>/dev/null || return 1
  [[ $(python3 -c 'import json,sys
a = [(x["round"], x["state"], x.get("batch_root"), x.get("proof")) for x in json.load(open(sys.argv[1]))["anchors"]]
b = [(x["round"], x["state"], x.get("batch_root"), x.get("proof")) for x in json.load(open(sys.argv[2]))["anchors"]]
print(a == b)' "$CLUSTER_WORK/status-$1-$2.json" "$CLUSTER_WORK/status-1-$2.json") == True ]]
}
for n in 2 3; do
  for name in "${JOBS[@]}"; do
    for _ in $(seq 20); do same_anchors "$n" "$name" && break; sleep 0.5; done
    same_anchors "$n" "$name" || fail "node $n's record of $name shows other anchors than node 1's"
  done
done
veil_at 2 job status b3 >"$CLUSTER_WORK/status-2-b3.txt" || fail "job status b3 on node 2"
grep -q "batch      root 0x[0-9a-f]\{64\}  leaf [0-9] of [1-4]  proof of [0-2] hashes" "$CLUSTER_WORK/status-2-b3.txt" ||
  fail "node 2's job status does not show the root: $(cat "$CLUSTER_WORK/status-2-b3.txt")"
pass "nodes 2 and 3 (holders) show every job's roots and proofs, as node 1 does"

# 3. The audit: by the node's record, then by a tampered record.
for name in "${JOBS[@]}"; do
  veil_at 1 audit "$name" --from-node -o json >"$CLUSTER_WORK/audit-$name.json" || fail "veil audit $name --from-node: $(cat "$CLUSTER_WORK/audit-$name.json")"
  [[ $(json "$CLUSTER_WORK/audit-$name.json" 'd["ok"] and len(d["batched"])>=1 and all(b["verify_inclusion"] and b["proof_leads_to_root"] and b["root_anchored"] and b["matches_expected"] for b in d["batched"])') == True ]] ||
    fail "audit $name: $(cat "$CLUSTER_WORK/audit-$name.json")"
done
veil_at 1 audit b2 --from-node >"$CLUSTER_WORK/audit-b2.txt" || fail "veil audit b2 (text)"
grep -q "verifyInclusion on chain: true" "$CLUSTER_WORK/audit-b2.txt" || fail "audit text: $(cat "$CLUSTER_WORK/audit-b2.txt")"
grep -q "^audit OK" "$CLUSTER_WORK/audit-b2.txt" || fail "audit text: $(cat "$CLUSTER_WORK/audit-b2.txt")"
pass "veil audit --from-node passes for the four jobs (local proof and verifyInclusion)"
# The node's API (the dashboard's audit view) checks the same on its own chain view: node 2, a
# holder, gives the same verdicts as the CLI did against node 1's record.
for name in "${JOBS[@]}"; do
  curl -sf --max-time 30 -H "Authorization: Bearer $(cat "$CLUSTER_WORK/cluster/node-2/data/api.token")" \
    "http://$(node_field 2 api)/v1/jobs/$name/audit" >"$CLUSTER_WORK/api-audit-$name.json" || fail "GET /v1/jobs/$name/audit on node 2"
  python3 - "$CLUSTER_WORK/api-audit-$name.json" "$CLUSTER_WORK/audit-$name.json" <<'PY' || fail "the API's audit of $name differs from veil audit's: $(cat "$CLUSTER_WORK/api-audit-$name.json")"
import json, sys
api, cli = (json.load(open(p)) for p in sys.argv[1:3])
keys = ("commitment", "batch_root", "proof_leads_to_root", "root_anchored", "verify_inclusion", "matches_expected", "ok")
same = lambda r: [tuple(b[k] for k in keys) for b in r["batched"]]
sys.exit(0 if api["ok"] and same(api) == same(cli) else 1)
PY
done
pass "GET /v1/jobs/JOB/audit on a holder agrees with veil audit for the four jobs"

veil_at 1 job status b2 -o json >"$CLUSTER_WORK/b2.record.json"
veil_at 1 audit b2 --record "$CLUSTER_WORK/b2.record.json" -o json >"$CLUSTER_WORK/audit-b2-file.json" ||
  fail "veil audit --record (untouched): $(cat "$CLUSTER_WORK/audit-b2-file.json")"
python3 - "$CLUSTER_WORK/b2.record.json" "$CLUSTER_WORK/b2.tampered.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
a = [a for a in d["anchors"] if a["proof"]][0]
h = a["proof"][0]
a["proof"][0] = h[:-1] + ("0" if h[-1] != "0" else "1")
json.dump(d, open(sys.argv[2], "w"))
PY
if veil_at 1 audit b2 --record "$CLUSTER_WORK/b2.tampered.json" -o json >"$CLUSTER_WORK/audit-b2-tampered.json"; then
  fail "the audit passed with a tampered proof"
fi
[[ $(json "$CLUSTER_WORK/audit-b2-tampered.json" 'not d["ok"] and sum(1 for b in d["batched"] if not b["proof_leads_to_root"] and not b["verify_inclusion"] and b["root_anchored"] and not b["ok"]) == 1') == True ]] ||
  fail "tampered audit: $(cat "$CLUSTER_WORK/audit-b2-tampered.json")"
pass "a tampered proof fails the audit, locally and by verifyInclusion"

# 4. A fifth job alone: anchored by the age trigger (60 s after its commitment was pooled).
write_web_job "$CLUSTER_WORK/b5.yaml" b5 1
veil_at 1 job run "$CLUSTER_WORK/b5.yaml" -o json >/dev/null || fail "job run b5"
AGE_STARTED=$SECONDS
wait_anchored 1 240 b5 || fail "b5 was not anchored within 240 s"
[[ $(json "$CLUSTER_WORK/status-1-b5.json" 'all(a["batch_size"] < 4 for a in d["anchors"])') == True ]] ||
  fail "b5 was not anchored by age in a batch smaller than 4: $(cat "$CLUSTER_WORK/status-1-b5.json")"
((SECONDS - AGE_STARTED >= 55)) || fail "b5 was anchored after $((SECONDS - AGE_STARTED)) s, before the 60 s age"
veil_at 1 audit b5 --from-node -o json >"$CLUSTER_WORK/audit-b5.json" || fail "audit b5: $(cat "$CLUSTER_WORK/audit-b5.json")"
pass "a lone fifth job anchored by the age trigger $((SECONDS - AGE_STARTED)) s after submission, in a batch of $(json "$CLUSTER_WORK/status-1-b5.json" 'd["anchors"][-1]["batch_size"]'), and audited"

# 5. Gas per deployment, from the receipts of this run.
python3 - "$VEIL_ETH_RPC" "$BATCH_TX" "$(json "$CLUSTER_WORK/status-1-b5.json" 'd["anchors"][-1]["tx"]')" \
  "$(json "$CLUSTER_WORK/status-1-b5.json" 'd["anchors"][-1]["batch_size"]')" <<'PY'
import json, sys, urllib.request
rpc, batch_tx, lone_tx, lone_n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def receipt(tx):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionReceipt", "params": [tx]}).encode()
    req = urllib.request.Request(rpc, body, {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))["result"]
b, l = receipt(batch_tx), receipt(lone_tx)
gb, gl = int(b["gasUsed"], 16), int(l["gasUsed"], 16)
print(f"anchor_batch: gas: anchorBatch of 4: {gb} gas, {gb / 4:.0f} per deployment; of {lone_n} (age trigger): {gl} gas, {gl / lone_n:.0f} per deployment")
PY
pass "done"
