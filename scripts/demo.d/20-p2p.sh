# Sourced by scripts/demo.sh: two libp2p peers (docs/p2p.md) — ping, identify, echo, pubsub.
step "p2p: two Veil libp2p peers over Noise + Yamux: ping, identify, 1 MiB echo, a GossipSub message"
(
  set -euo pipefail
  "$VEIL" p2p peer --echo --topic demo --key "$WORK/a.key" > "$WORK/a.out" 2>"$WORK/a.err" &
  A_PID=$!
  trap 'kill $A_PID 2>/dev/null; wait $A_PID 2>/dev/null' EXIT
  for _ in $(seq 100); do [[ -s "$WORK/a.out" ]] && break; sleep 0.05; done
  ADDR=$(head -1 "$WORK/a.out")
  echo "peer A listens on $ADDR"
  "$VEIL" p2p ping "$ADDR" -c 3
  "$VEIL" p2p identify "$ADDR"
  "$VEIL" p2p echo "$ADDR" --bytes 1048576
  (sleep 2; echo "hello from B") | timeout 4 "$VEIL" p2p peer --topic demo --dial "$ADDR" >/dev/null 2>&1 || true
  sleep 0.5
  echo "A received:"; grep '"topic"' "$WORK/a.out" || echo "(nothing)"
)
