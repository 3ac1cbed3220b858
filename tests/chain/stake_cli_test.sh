#!/usr/bin/env bash
# End-to-end test of `veil stake` and `veil dispute` against a real anvil started here (loopback,
# free port) and stopped on exit. Governance sets the stake rules; operator 1 bonds, unstakes,
# is refused a withdrawal before the release time, and withdraws after anvil's clock is moved past
# it; then an equivocation it signed (with `cast wallet sign`, an independent EIP-712 signer) is
# checked and submitted by account 2, which slashes the set fraction, credits the reporter, drops
# operator 1 below the minimum (so `node register` is refused with the amounts), and cannot be
# submitted twice. Malformed and forged evidence is refused before anything is sent. Then a
# contradiction: a decision operator 1 signed differs from the one anchored for its round over
# the same inputs (refused while that round is not anchored), slashing it again.
# Usage: stake_cli_test.sh PATH_TO_VEIL
set -euo pipefail
VEIL="$1"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
fail() { echo "stake_cli_test: FAIL: $*" >&2; exit 1; }
# expect_exit CODE CMD...: runs CMD with stdout in $WORK/out and stderr in $WORK/err.
expect_exit() {
  local want="$1"; shift
  set +e; "$@" >"$WORK/out" 2>"$WORK/err"; local rc=$?; set -e
  [[ $rc -eq $want ]] || fail "'$*' exited $rc, want $want; stdout: $(cat "$WORK/out"); stderr: $(cat "$WORK/err")"
}
err_has() { grep -qF -- "$1" "$WORK/err" || fail "stderr lacks '$1': $(cat "$WORK/err")"; }
out_has() { grep -qF -- "$1" "$WORK/out" || fail "stdout lacks '$1': $(cat "$WORK/out")"; }
# json_field FILE EXPR: a field of a JSON file, by a JavaScript expression over `j`.
json_field() { node -e 'const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(eval(process.argv[2]))' "$1" "$2"; }

source "$ROOT/tests/chain/anvil_env.sh"
# Account 0 deploys and governs, 1 is the operator under test, 2 a reporter.

ADDR="$(VEIL_ETH_KEY_FILE="$WORK/key0" "$VEIL" chain deploy --name stake-e2e --operator "$A0" --operator "$A1" | tail -1)"
[[ "$ADDR" =~ ^0x[0-9a-fA-F]{40}$ ]] || fail "deploy printed '$ADDR'"
export VEIL_CONTRACT_ADDRESS="$ADDR"
# Minimum 1 ETH, unbonding 3600 s, a proven lie takes 50 %, 20 % of that to the reporter.
ONE_ETH=1000000000000000000
"$VEIL" gov propose set-stake-params "$ONE_ETH" 3600 5000 2000 --key-file "$WORK/key0" >/dev/null 2>&1

# ---- amounts: strict, a usage error (exit 2) before anything is sent
expect_exit 2 "$VEIL" stake deposit 1.5wei --key-file "$WORK/key1"; err_has "not a whole number of wei"
expect_exit 2 "$VEIL" stake deposit 1ETH --key-file "$WORK/key1"; err_has "e.g. 1eth"
expect_exit 2 "$VEIL" stake deposit 0eth --key-file "$WORK/key1"; err_has "more than 0"
[[ "$("$CAST" nonce --rpc-url "$VEIL_ETH_RPC" "$A1")" == 0 ]] || fail "a refused amount sent a transaction"

# ---- deposit and status
expect_exit 0 "$VEIL" stake deposit 2eth --key-file "$WORK/key1"
out_has "bonded 2 ETH (2000000000000000000 wei) from $A1"; out_has "(staked)"
"$VEIL" stake status "$A1" -o json > "$WORK/status.json"
[[ "$(json_field "$WORK/status.json" 'j.bonded_wei')" == 2000000000000000000 ]] || fail "bonded after deposit: $(cat "$WORK/status.json")"
[[ "$(json_field "$WORK/status.json" 'j.staked && j.operator')" == true ]] || fail "staked operator: $(cat "$WORK/status.json")"
[[ "$(json_field "$WORK/status.json" 'j.cluster.min_stake_wei + " " + j.cluster.unbonding_delay_s')" == "$ONE_ETH 3600" ]] \
  || fail "cluster rules: $(cat "$WORK/status.json")"
# Without ADDRESS the key file names the account; the table says it in words.
expect_exit 0 "$VEIL" stake status --key-file "$WORK/key1"
out_has "Account    $A1 (operator)"; out_has "Staked     yes"; out_has "a proven lie takes 50 % of bonded and unbonding stake, 20 %"
"$VEIL" stake status "$A1" -o yaml | grep -q '^bonded_wei: "2000000000000000000"$' || fail "yaml status"

# ---- unstake: more than bonded is refused with the amounts; half an ether starts unbonding
expect_exit 1 "$VEIL" stake unstake 10eth --key-file "$WORK/key1"; err_has "cannot unstake 10 ETH: $A1 has 2 ETH bonded"
expect_exit 0 "$VEIL" stake unstake 0.5ether --key-file "$WORK/key1"
out_has "moved 0.5 ETH (500000000000000000 wei) to unbonding"; out_has ", in 3600 s"
"$VEIL" stake status "$A1" -o json > "$WORK/status.json"
NOW="$(json_field "$WORK/status.json" 'j.chain_time')"
[[ "$(json_field "$WORK/status.json" 'j.bonded_wei + " " + j.unbonding.amount_wei + " " + j.unbonding.released')" == \
   "1500000000000000000 500000000000000000 false" ]] || fail "status after unstake: $(cat "$WORK/status.json")"
[[ "$(json_field "$WORK/status.json" 'j.unbonding.release_at')" == $((NOW + 3600)) ]] || fail "release time: $(cat "$WORK/status.json")"

# ---- withdraw: refused before the release time, naming it; paid after anvil's clock moves on
RELEASE_UTC="$(json_field "$WORK/status.json" 'j.unbonding.release_at_utc')"
expect_exit 1 "$VEIL" stake withdraw --key-file "$WORK/key1"
err_has "is not released yet: it is released at $RELEASE_UTC, in "; err_has "veil stake withdraw' then"
"$CAST" rpc --rpc-url "$VEIL_ETH_RPC" evm_increaseTime 3601 >/dev/null
"$CAST" rpc --rpc-url "$VEIL_ETH_RPC" evm_mine >/dev/null
[[ "$("$VEIL" stake status "$A1" -o json | node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).unbonding.released)')" == true ]] \
  || fail "status does not show the stake released after the time travel"
BEFORE="$("$CAST" balance --rpc-url "$VEIL_ETH_RPC" "$A1")"
expect_exit 0 "$VEIL" stake withdraw --key-file "$WORK/key1"; out_has "withdrew 0.5 ETH (500000000000000000 wei) to $A1"
AFTER="$("$CAST" balance --rpc-url "$VEIL_ETH_RPC" "$A1")"
# The balance grows by 0.5 ETH less the gas of one call (far under 0.01 ETH on anvil).
node -e 'const d = BigInt(process.argv[2]) - BigInt(process.argv[1]); if (d <= 490000000000000000n || d >= 500000000000000000n) { console.error("balance moved by " + d); process.exit(1); }' \
  "$BEFORE" "$AFTER" || fail "withdraw did not pay 0.5 ETH"
expect_exit 1 "$VEIL" stake withdraw --key-file "$WORK/key1"; err_has "has no unbonding stake to withdraw"

# ---- evidence: two announcements operator 1 signed for one job, round and node
JOB="$("$CAST" keccak job-9)"; PEER="$("$CAST" keccak 12D3KooWLiar)"
DEC_A="$("$CAST" keccak decision-a)"; DEC_B="$("$CAST" keccak decision-b)"
CHAIN_ID="$("$CAST" chain-id --rpc-url "$VEIL_ETH_RPC")"
IN_A="$("$CAST" keccak inputs-a)"; IN_B="$("$CAST" keccak inputs-b)"
sign() {  # sign KEY DECISION INPUTS [ROUND]: cast's EIP-712 signature of the announcement
  cat > "$WORK/typed.json" <<EOF
{"types": {"EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                            {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
           "Announcement": [{"name": "jobId", "type": "bytes32"}, {"name": "round", "type": "uint32"},
                            {"name": "decisionHash", "type": "bytes32"}, {"name": "peerId", "type": "bytes32"},
                            {"name": "inputsRoot", "type": "bytes32"}]},
 "primaryType": "Announcement",
 "domain": {"name": "VeilRegistry", "version": "1", "chainId": $CHAIN_ID, "verifyingContract": "$ADDR"},
 "message": {"jobId": "$JOB", "round": ${4:-3}, "decisionHash": "$2", "peerId": "$PEER", "inputsRoot": "$3"}}
EOF
  "$CAST" wallet sign --data --from-file "$WORK/typed.json" --private-key "$1"
}
evidence() {  # evidence SIG_A SIG_B
  printf '{"kind": "equivocation", "job_id": "%s", "round": 3, "peer_id": "%s", "decision_a": "%s", "inputs_root_a": "%s", "signature_a": "%s", "decision_b": "%s", "inputs_root_b": "%s", "signature_b": "%s"}\n' \
    "$JOB" "$PEER" "$DEC_A" "$IN_A" "$1" "$DEC_B" "$IN_B" "$2"
}
SIG_A="$(sign "$K1" "$DEC_A" "$IN_A")"; SIG_B="$(sign "$K1" "$DEC_B" "$IN_B")"
evidence "$SIG_A" "$SIG_B" > "$WORK/evidence.json"

expect_exit 0 "$VEIL" dispute check --evidence "$WORK/evidence.json"
out_has "Signer       $A1 (operator)"; out_has "Decision A   $DEC_A"; out_has "Decision B   $DEC_B"
out_has "a submission takes 0.75 ETH, 0.15 ETH of it to the reporter"

# Refused before sending: malformed JSON, a field missing, a signature by someone else.
REPORTER_NONCE="$("$CAST" nonce --rpc-url "$VEIL_ETH_RPC" "$A2")"
echo '{"kind": "equivocation", "job_id": ' > "$WORK/broken.json"
expect_exit 1 "$VEIL" dispute submit --evidence "$WORK/broken.json" --key-file "$WORK/key2"; err_has "not sent"; err_has "not a JSON object"
evidence "$SIG_A" "$SIG_B" | sed 's/"signature_b"/"signature_c"/' > "$WORK/missing.json"
expect_exit 1 "$VEIL" dispute submit --evidence "$WORK/missing.json" --key-file "$WORK/key2"; err_has "'signature_b'"
evidence "$SIG_A" "$(sign "$K2" "$DEC_B" "$IN_B")" > "$WORK/forged.json"
expect_exit 1 "$VEIL" dispute check --evidence "$WORK/forged.json"; err_has "two signers"
expect_exit 1 "$VEIL" dispute submit --evidence "$WORK/forged.json" --key-file "$WORK/key2"; err_has "not sent"; err_has "two signers"
[[ "$("$CAST" nonce --rpc-url "$VEIL_ETH_RPC" "$A2")" == "$REPORTER_NONCE" ]] || fail "refused evidence was sent"

# Submitted by account 2: 50 % of operator 1's 1.5 ETH, 20 % of that to the reporter.
expect_exit 0 "$VEIL" dispute submit --evidence "$WORK/evidence.json" --key-file "$WORK/key2" -o json
cp "$WORK/out" "$WORK/slash.json"
[[ "$(json_field "$WORK/slash.json" '[j.operator, j.reporter, j.slashed_wei, j.reward_wei, j.operator_bonded_wei, j.operator_staked].join(" ")')" == \
   "$A1 $A2 750000000000000000 150000000000000000 750000000000000000 false" ]] || fail "Slashed event: $(cat "$WORK/slash.json")"
"$VEIL" stake status "$A1" -o json > "$WORK/status.json"
[[ "$(json_field "$WORK/status.json" 'j.bonded_wei + " " + j.staked')" == "750000000000000000 false" ]] \
  || fail "operator after the slash: $(cat "$WORK/status.json")"
expect_exit 0 "$VEIL" stake status "$A1"; out_has "Staked     NO: bonded stake is below the cluster's minimum of 1 ETH"
"$VEIL" stake status "$A2" -o json > "$WORK/status.json"
[[ "$(json_field "$WORK/status.json" 'j.rewards_wei')" == 150000000000000000 ]] || fail "reporter reward: $(cat "$WORK/status.json")"

# The same lie, and the same pair swapped, cannot be slashed again; the check says so too.
expect_exit 1 "$VEIL" dispute submit --evidence "$WORK/evidence.json" --key-file "$WORK/key2"; err_has "already slashed"
evidence "$SIG_B" "$SIG_A" | sed "s/$DEC_A/TMP/; s/$DEC_B/$DEC_A/; s/TMP/$DEC_B/; s/$IN_A/TMP/; s/$IN_B/$IN_A/; s/TMP/$IN_B/" > "$WORK/swapped.json"
expect_exit 1 "$VEIL" dispute submit --evidence "$WORK/swapped.json" --key-file "$WORK/key0"; err_has "already slashed"
expect_exit 1 "$VEIL" dispute check --evidence "$WORK/evidence.json"; err_has "already slashed"

# The reporter is paid; a second withdrawal has nothing left.
expect_exit 0 "$VEIL" stake withdraw-rewards --key-file "$WORK/key2"; out_has "withdrew 0.15 ETH (150000000000000000 wei) of reporter rewards to $A2"
expect_exit 1 "$VEIL" stake withdraw-rewards --key-file "$WORK/key2"; err_has "no reporter rewards are owed to $A2"

# Below the minimum the operator cannot register a node, and is told how much is missing.
expect_exit 1 "$VEIL" node register 12D3KooWAfterSlash --key-file "$WORK/key1"
err_has "has 0.75 ETH bonded and the cluster's minimum stake is 1 ETH; bond the rest with 'veil stake deposit 250000000000000000wei'"
expect_exit 0 "$VEIL" stake deposit 250000000000000000wei --key-file "$WORK/key1"; out_has "(staked)"
expect_exit 0 "$VEIL" node register 12D3KooWAfterSlash --key-file "$WORK/key1"

# ---- a contradiction: operator 1 (1 ETH bonded again) signed, for round 4, a decision other than the one anchored
# for round 4 over the same inputs (anchored here by cast, an independent client).
S1="$("$CAST" keccak sched-1)"; S2="$("$CAST" keccak sched-2)"
"$CAST" send --rpc-url "$VEIL_ETH_RPC" --private-key "$K0" "$ADDR" \
  "anchorCommitment(bytes32,uint32,bytes32,bytes32,bytes32[])" "$JOB" 4 "$DEC_A" "$IN_A" "[$S1,$S2]" >/dev/null
contradiction() {  # contradiction ROUND SIG
  printf '{"kind": "contradiction", "job_id": "%s", "round": %s, "agreed_decision": "%s", "inputs_root": "%s", "schedulers": ["%s", "%s"], "batch_root": "0x%064d", "proof": [], "peer_id": "%s", "announced_decision": "%s", "signature": "%s"}\n' \
    "$JOB" "$1" "$DEC_A" "$IN_A" "$S1" "$S2" 0 "$PEER" "$DEC_B" "$2"
}
contradiction 5 "$(sign "$K1" "$DEC_B" "$IN_A" 5)" > "$WORK/unanchored.json"
expect_exit 1 "$VEIL" dispute check --evidence "$WORK/unanchored.json"; err_has "is not anchored"
contradiction 4 "$(sign "$K1" "$DEC_B" "$IN_A" 4)" > "$WORK/contradiction.json"
expect_exit 0 "$VEIL" dispute check --evidence "$WORK/contradiction.json"
out_has "Kind         contradiction"; out_has "Anchored     $DEC_A"; out_has "Announced    $DEC_B"
expect_exit 0 "$VEIL" dispute submit --evidence "$WORK/contradiction.json" --key-file "$WORK/key2" -o json
[[ "$(json_field "$WORK/out" '[j.slashed_wei, j.operator_bonded_wei].join(" ")')" == "500000000000000000 500000000000000000" ]] ||
  fail "contradiction slash: $(cat "$WORK/out")"
expect_exit 1 "$VEIL" dispute submit --evidence "$WORK/contradiction.json" --key-file "$WORK/key2"; err_has "already slashed"


# The verbs reach the man pages and shell completion (both walk the command tree).
"$VEIL" man --out "$WORK/man" >/dev/null
for page in veil-stake-deposit veil-stake-status veil-stake-unstake veil-stake-withdraw veil-stake-withdraw-rewards \
            veil-dispute-check veil-dispute-submit; do
  [[ -s "$WORK/man/$page.1" ]] || fail "no man page $page.1"
done
# (Through a file: `grep -q` on a pipe may close it early, and pipefail would see veil's SIGPIPE.)
"$VEIL" completion bash >"$WORK/completion.bash"
grep -q "withdraw-rewards" "$WORK/completion.bash" || fail "bash completion lacks 'stake withdraw-rewards'"
echo "stake_cli_test: OK"
