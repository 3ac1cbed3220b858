#!/bin/sh
# `veil sim swim --json` prints one JSON object with every key issue 5 asks for, and rejects
# bad input with exit code 2.
set -eu
VEIL="$1"
out=$("$VEIL" sim swim --members 60 --loss 0.05 --kill 2 --slow 0.1 --partition 40:50 --periods 80 --seed 4 --json)
echo "$out"
for key in first_detection_p50_periods first_detection_p99_periods dissemination_p99_periods \
           false_positives msgs_per_member_per_period bytes_per_member_per_period \
           partition_convergence_periods period_ms; do
  echo "$out" | grep -q "\"$key\":" || { echo "missing key $key"; exit 1; }
done
echo "$out" | grep -q '"detected":2' || { echo "the two crashes were not both detected"; exit 1; }
set +e
"$VEIL" sim swim --members 1 --json >/dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] || { echo "--members 1 should exit 2, got $rc"; exit 1; }
"$VEIL" sim swim --partition nonsense --json >/dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] || { echo "--partition nonsense should exit 2, got $rc"; exit 1; }
echo ok
