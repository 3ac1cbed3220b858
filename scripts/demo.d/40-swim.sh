# Sourced by scripts/demo.sh: SWIM + Lifeguard membership, simulated (docs/swim.md).
step "SWIM membership: 500 simulated members, 5 crashes, 5% packet loss (veil sim swim)"
"$VEIL" sim swim --members 500 --kill 5 --loss 0.05 --periods 60 --seed 1 --json
step "Lifeguard off vs on with 10% slow members: false positives (healthy members declared dead)"
for flag in --no-lifeguard ""; do
  "$VEIL" sim swim --members 300 --loss 0.05 --slow 0.1 --kill 3 --periods 90 --seed 1 --json $flag |
    grep -o '"false_positives":[0-9]*\|"lifeguard":[a-z]*' | tr '\n' ' '
  echo
done
