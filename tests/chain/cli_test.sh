#!/usr/bin/env bash
# End-to-end test of the chain verbs of `veil` against a real anvil started here (loopback, free
# port) and stopped on exit: deploy, node register by two operators, an image allowed through a
# two-vote governance round, status as JSON, audit of a commitment anchored independently with
# `cast send`, and the failure paths (non-operator revert named, unreachable endpoint).
# Usage: cli_test.sh PATH_TO_VEIL
set -euo pipefail
VEIL="$1"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
fail() { echo "cli_test: FAIL: $*" >&2; exit 1; }
source "$ROOT/tests/chain/anvil_env.sh"

# Deploy: the address is the last stdout line.
ADDR="$(VEIL_ETH_KEY_FILE="$WORK/key0" "$VEIL" chain deploy --name e2e --operator "$A0" --operator "$A1" --quorum 2 | tail -1)"
[[ "$ADDR" =~ ^0x[0-9a-fA-F]{40}$ ]] || fail "deploy printed '$ADDR'"
export VEIL_CONTRACT_ADDRESS="$ADDR"

"$VEIL" node register 12D3KooWNodeOfOperatorZero --key-file "$WORK/key0" >/dev/null
"$VEIL" node register 12D3KooWNodeOfOperatorOne --key-file "$WORK/key1" >/dev/null

DIGEST="sha256:$(printf 'ab%.0s' $(seq 32))"
ID="$("$VEIL" image allow "$DIGEST" --key-file "$WORK/key0" 2>/dev/null | tail -1)"
[[ "$ID" == 1 ]] || fail "image allow printed proposal '$ID'"
"$VEIL" gov vote "$ID" yes --key-file "$WORK/key1" >/dev/null
"$VEIL" gov execute "$ID" --key-file "$WORK/key1" >/dev/null

"$VEIL" chain status -o json > "$WORK/status.json"
node -e '
  const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const want = (c, m) => { if (!c) { console.error("status: " + m + "\n" + JSON.stringify(s, null, 2)); process.exit(1); } };
  want(s.name === "e2e", "name");
  want(s.operators.length === 2, "two operators");
  want(s.nodes.length === 2 && s.nodes.every((n) => n.active), "two active nodes");
  want(s.images.length === 1 && s.images[0] === process.argv[2], "allowed image");
  want(s.governance.quorum === 2, "quorum");
' "$WORK/status.json" "$DIGEST" || fail "chain status"

# A commitment anchored by an independent client (cast), audited by veil.
JOB="$("$CAST" keccak job-7)"; DEC="$("$CAST" keccak decision)"; IN="$("$CAST" keccak inputs)"
S1="$("$CAST" keccak sched-1)"; S2="$("$CAST" keccak sched-2)"
"$CAST" send --rpc-url "$VEIL_ETH_RPC" --private-key "$K1" "$ADDR" \
  "anchorCommitment(bytes32,uint32,bytes32,bytes32,bytes32[])" "$JOB" 2 "$DEC" "$IN" "[$S1,$S2]" >/dev/null
"$VEIL" audit job-7 --round 2 --decision-hash "$DEC" --inputs-root "$IN" --scheduler "$S1" --scheduler "$S2" >/dev/null \
  || fail "audit of the honest commitment"
if "$VEIL" audit job-7 --round 1 --decision-hash "$DEC" --inputs-root "$IN" --scheduler "$S1" --scheduler "$S2" >/dev/null; then
  fail "audit accepted the decision for another round"
fi
if "$VEIL" audit job-7 --round 2 --decision-hash "$IN" --inputs-root "$IN" --scheduler "$S1" --scheduler "$S2" >/dev/null; then
  fail "audit accepted a wrong decision hash"
fi
if "$VEIL" audit job-unknown >/dev/null; then fail "audit of a job never anchored succeeded"; fi

# Failure paths: a non-operator's revert is named; an unreachable endpoint is reported.
if "$VEIL" node register 12D3KooWIntruder --key-file "$WORK/key2" 2>"$WORK/err" >/dev/null; then fail "non-operator registered"; fi
grep -q "NotOperator(caller=0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC)" "$WORK/err" || fail "revert not named: $(cat "$WORK/err")"
set +e
"$VEIL" chain status --rpc http://127.0.0.1:1 2>"$WORK/err" >/dev/null
rc=$?
set -e
[[ $rc -eq 1 ]] || fail "unreachable endpoint exit code $rc"
grep -q "127.0.0.1:1" "$WORK/err" || fail "unreachable endpoint message: $(cat "$WORK/err")"
if VEIL_CONTRACT_ADDRESS= "$VEIL" chain status 2>"$WORK/err" >/dev/null; then fail "status without a contract succeeded"; fi
grep -q "VEIL_CONTRACT_ADDRESS" "$WORK/err" || fail "missing-contract message: $(cat "$WORK/err")"
echo "cli_test: OK"
