# Sourced by scripts/demo.sh: SWIM + Lifeguard membership, simulated (docs/swim.md).
step "SWIM membership: 500 simulated members, 5 crashes, 5% packet loss (veil sim swim)"
"$VEIL" sim swim --members 500 --kill 5 --loss 0.05 --periods 60 --seed 1 --json
step "Lifeguard off vs on with 10% slow members: false positives (healthy members declared dead)"
for flag in --no-lifeguard ""; do
  "$VEIL" sim swim --members 300 --loss 0.05 --slow 0.1 --kill 3 --periods 90 --seed 1 --json $flag |
    grep -o '"false_positives":[0-9]*\|"lifeguard":[a-z]*' | tr '\n' ' '
  echo
done
step "SWIM over libp2p: 3 'veil swim member' processes on 127.0.0.1; one is killed (-9) and the others declare it dead"
(
  set -eu
  T=(--preset local --probe-interval-ms 200 --probe-timeout-ms 100 --gossip-interval-ms 50)
  "$VEIL" swim bounds --members 3 "${T[@]}"
  "$VEIL" swim member --listen /ip4/127.0.0.1/tcp/0 "${T[@]}" >"$WORK/swim1.out" 2>/dev/null & p1=$!
  for _ in $(seq 50); do [ -s "$WORK/swim1.out" ] && break; sleep 0.1; done
  seed=$(head -n1 "$WORK/swim1.out")
  "$VEIL" swim member --listen /ip4/127.0.0.1/tcp/0 --join "$seed" "${T[@]}" >"$WORK/swim2.out" 2>/dev/null & p2=$!
  "$VEIL" swim member --listen /ip4/127.0.0.1/tcp/0 --join "$seed" "${T[@]}" >"$WORK/swim3.out" 2>/dev/null & p3=$!
  sleep 2
  kill -9 "$p3"; wait "$p3" 2>/dev/null || true
  sleep 4
  kill -TERM "$p1" "$p2"; wait "$p1" "$p2"
  echo "member 1 saw (event, member, incarnation):"
  grep '"event":"\(joined\|suspect\|dead\)"' "$WORK/swim1.out" |
    sed 's/.*"event":"\([a-z]*\)","incarnation":\([0-9]*\),"member":"\([^"]*\)".*/  \1 \3 \2/'
  echo "member 3 was $(head -n1 "$WORK/swim3.out")"
)
