#!/bin/bash
# Regenerates the measurements behind docs/swim.md ("Results"). Runs the simulator
# (`veil sim swim --json`) over a set of scenarios and prints one JSON line per run, prefixed
# by the scenario name, so the table can be rebuilt from the output.
#   usage: bench/swim_table.sh [path/to/veil] [quick]
# The 10,000-member runs take 1-2 minutes each on a 2-core machine (about 1.5 GB of memory);
# "quick" skips them.
set -euo pipefail
VEIL=${1:-build/bin/veil}
QUICK=${2:-}
SIZES="100 1000 10000"
[ "$QUICK" = quick ] && SIZES="100 1000"

run() {  # name, args...
  local name=$1; shift
  printf '%s\t' "$name"
  "$VEIL" sim swim "$@" --json
}

# 1. Scale: traffic per member, first detection, dissemination vs N (memberlist LAN preset).
for n in $SIZES; do
  run "scale-lan n=$n" --members "$n" --kill 20 --periods 60 --seed 1
done
# 2. The same with piggybacking only (classic SWIM, no gossip rounds).
for n in $SIZES; do
  run "scale-piggyback n=$n" --members "$n" --kill 20 --periods 60 --seed 1 --gossip-interval-ms 0
done
# 3. Steady state: no failures at all.
for n in $SIZES; do
  run "steady n=$n" --members "$n" --kill 0 --periods 60 --seed 1
done
# 4. First detection with many samples.
run "detect n=1000" --members 1000 --kill 100 --periods 60 --seed 2
run "detect-no-lifeguard n=1000" --members 1000 --kill 100 --periods 60 --seed 2 --no-lifeguard
# 5. Lifeguard on/off under 5% loss and 10% slow members.
for seed in 1 2; do
  run "lifeguard-on seed=$seed" --members 1000 --loss 0.05 --slow 0.1 --slow-delay-ms 3000 --kill 10 --periods 120 --seed "$seed"
  run "lifeguard-off seed=$seed" --members 1000 --loss 0.05 --slow 0.1 --slow-delay-ms 3000 --kill 10 --periods 120 --seed "$seed" --no-lifeguard
done
# 6. Partition of two halves for 30 periods, then heal.
run "partition n=1000" --members 1000 --partition 10:40 --periods 120 --seed 1
