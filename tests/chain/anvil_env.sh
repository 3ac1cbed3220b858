# Sourced by the shell tests of the chain verbs (cli_test.sh, stake_cli_test.sh): starts a real
# anvil on a free loopback port, stopped with $WORK removed when the test exits, and exports
# VEIL_ETH_RPC for it. Sets CAST, WORK, anvil's public dev keys K0..K2 with their addresses
# A0..A2, and key files $WORK/key0..key2. Needs ROOT, the repository root.
BIN="$ROOT/node_modules/@foundry-rs"
ANVIL="$BIN/anvil-linux-amd64/bin/anvil"
CAST="$BIN/cast-linux-amd64/bin/cast"
WORK="$(mktemp -d)"
ANVIL_PID=""
cleanup() {
  [[ -n "$ANVIL_PID" ]] && kill "$ANVIL_PID" 2>/dev/null && wait "$ANVIL_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
"$ANVIL" --host 127.0.0.1 --port "$PORT" --silent >/dev/null 2>&1 &
ANVIL_PID=$!
export VEIL_ETH_RPC="http://127.0.0.1:$PORT"
for _ in $(seq 100); do "$CAST" chain-id --rpc-url "$VEIL_ETH_RPC" >/dev/null 2>&1 && break; sleep 0.1; done

# anvil's public dev keys.
K0=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
K1=0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d
K2=0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a
A0=0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266
A1=0x70997970C51812dc3A010C7d01b50e0d17dc79C8
A2=0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC
for i in 0 1 2; do eval "echo \$K$i" > "$WORK/key$i"; done
