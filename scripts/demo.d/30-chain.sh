# Sourced by scripts/demo.sh: the VeilRegistry contract on a local anvil (docs/chain.md).
step "Chain: deploy VeilRegistry on a local anvil, register a node, allow an image, audit a job"
(
  set -euo pipefail
  FOUNDRY="$ROOT/node_modules/@foundry-rs"
  PORT=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  "$FOUNDRY/anvil-linux-amd64/bin/anvil" --host 127.0.0.1 --port "$PORT" --silent >/dev/null 2>&1 &
  ANVIL_PID=$!
  trap 'kill $ANVIL_PID 2>/dev/null; wait $ANVIL_PID 2>/dev/null' EXIT
  CAST="$FOUNDRY/cast-linux-amd64/bin/cast"
  export VEIL_ETH_RPC="http://127.0.0.1:$PORT" VEIL_ETH_KEY_FILE="$WORK/operator.key"
  for _ in $(seq 100); do "$CAST" chain-id --rpc-url "$VEIL_ETH_RPC" >/dev/null 2>&1 && break; sleep 0.1; done
  echo 0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80 > "$VEIL_ETH_KEY_FILE"  # anvil dev key 0
  VEIL_CONTRACT_ADDRESS=$("$VEIL" chain deploy --name demo | tail -1)
  export VEIL_CONTRACT_ADDRESS
  "$VEIL" node register 12D3KooWDemoNode
  "$VEIL" image allow "sha256:$(printf '5e%.0s' $(seq 32))" >/dev/null
  "$CAST" send --rpc-url "$VEIL_ETH_RPC" --private-key "$(cat "$VEIL_ETH_KEY_FILE")" "$VEIL_CONTRACT_ADDRESS" \
    "anchorCommitment(bytes32,uint32,bytes32,bytes32,bytes32[])" "$("$CAST" keccak demo-job)" 1 "$("$CAST" keccak decision)" \
    "$("$CAST" keccak inputs)" "[$("$CAST" keccak scheduler-1)]" >/dev/null
  "$VEIL" chain status
  "$VEIL" audit demo-job
)
