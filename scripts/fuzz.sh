#!/usr/bin/env bash
# Builds every libFuzzer target (preset `fuzz`: clang, ASan+UBSan) and runs each for the
# given number of seconds (default 60), keeping a growing corpus in build-fuzz/corpus/NAME.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SECONDS_EACH="${1:-60}"
scripts/setup.sh --no-build
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
mapfile -t fuzzers < <(find build-fuzz/bin -maxdepth 1 -name '*_fuzzer' -type f | sort)
[[ ${#fuzzers[@]} -gt 0 ]] || { echo "fuzz: no fuzz targets are defined yet"; exit 0; }
for fuzzer in "${fuzzers[@]}"; do
  name=$(basename "$fuzzer" _fuzzer)
  mkdir -p "build-fuzz/corpus/$name"
  echo "fuzz: $name for ${SECONDS_EACH}s"
  seeds=$(cat "build-fuzz/fuzz-seeds/$name" 2>/dev/null || true)
  # The first directory receives new inputs; the seed corpus in the repository stays untouched.
  # shellcheck disable=SC2086
  "$fuzzer" -max_total_time="$SECONDS_EACH" -print_final_stats=1 "build-fuzz/corpus/$name" $seeds 2>&1 | tail -4
done
