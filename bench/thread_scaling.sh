#!/bin/bash
# Thread scaling of one encrypted placement decision (issue 18): `veil bench schedule` at each
# thread count, one process per run, and a table of wall time, CPU time, speed-up against the
# smallest thread count, parallel efficiency, and the speed-up the decision's level widths
# allow at that count (the JSON's levels.speedup_bound). Meant for the lent 16-core machine.
#
#   here:    bench/thread_scaling.sh bundle [DIR]     # veil + its shared libraries into DIR
#                                                     # (default build/device, which `run` can carry)
#   there:   bench/thread_scaling.sh run [DIR] [NODES] [THREADS] [REPETITIONS]
#            e.g. bench/thread_scaling.sh run build/device "16 64" "2 4 8 16" 1
#
# `run` prints the CPU model and topology, the measured clock and FMA units (`veil bench cpu`),
# pins each run to T CPUs (one per core first, then their hyperthread siblings), one JSON line
# per run (prefixed "json\t"), and a Markdown table; with $OUT set it also writes them to
# $OUT/thread_scaling.{jsonl,md} and $OUT/cpu_probe.json. Default parameters, spread policy,
# one replica, all candidates. Wall times on a 16-core Xeon before this script existed: 16
# nodes 2.3-8.1 s, 64 nodes 8.3-34 s, 256 nodes ~31 s at 16 threads (about four times that at
# 2): a 256-node row at 2..16 threads takes ~5 minutes, so give the 16/64-node rows and the
# 256-node row one device call each.
set -euo pipefail

bundle() {
  local dir=${1:-build/device}
  local veil=build/bin/veil
  [ -x "$veil" ] || { echo "thread_scaling: $veil not built (make build)" >&2; exit 1; }
  rm -rf "$dir" && mkdir -p "$dir/lib"
  strip -o "$dir/veil" "$veil"
  # Every shared library veil needs except the C/C++ runtime, which the other machine has.
  ldd "$veil" | awk '/=> \// {print $3}' | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so*|libm.so*|libstdc++.so*|libgcc_s.so*|ld-linux*|libpthread.so*|libdl.so*|librt.so*) ;;
      *) cp -L "$lib" "$dir/lib/" ;;
    esac
  done
  cp bench/thread_scaling.sh "$dir/"
  du -sh "$dir"
}

# The CPUs in the order runs take them: the first hardware thread of every core (socket by
# socket), then the second of every core, and so on — only CPUs this process may run on (a
# container's cpuset may hold fewer than lscpu lists).
cpu_order() {
  local allowed
  allowed=$(python3 -c 'import os; print(",".join(map(str, sorted(os.sched_getaffinity(0)))))')
  lscpu -p=CPU,CORE,SOCKET | grep -v '^#' | sort -t, -k2,2n -k1,1n |
    awk -F, -v allowed="$allowed" 'BEGIN {n = split(allowed, a, ","); for (i = 1; i <= n; i++) ok[a[i]] = 1}
      ok[$1] {rank = seen[$3 "/" $2]++; print rank "," $3 "," $2 "," $1}' |
    sort -t, -k1,1n -k2,2n -k3,3n | cut -d, -f4
}

run() {
  local dir=${1:-build/device} nodes=${2:-"16 64"} threads=${3:-"1 2 4 8 16"} reps=${4:-1}
  local veil=$dir/veil
  [ -x "$veil" ] || veil=build/bin/veil
  export LD_LIBRARY_PATH="$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  local model
  model=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
  local out=${OUT:-}
  local jsonl
  jsonl=$(mktemp)
  echo "cpu: $model ($(nproc) CPUs)"
  # Whether the CPUs are cores or hyperthreads decides what 16 threads can give: two threads on
  # one core's siblings share its vector units.
  lscpu | grep -E '^(Thread\(s\) per core|Core\(s\) per socket|Socket\(s\)|NUMA node\(s\)|L2 cache|L3 cache):' || true
  # The measured clock and FMA units (`veil bench cpu`): figures from different machines
  # compare through them (bench/README.md, "Per cycle").
  local probe
  probe=$("$veil" bench cpu --json 2>/dev/null || echo '{}')
  printf 'cpu\t%s\n' "$probe"
  if [ -n "$out" ]; then echo "$probe" >"$out/cpu_probe.json"; fi
  local order
  order=$(cpu_order)
  for n in $nodes; do
    for t in $threads; do
      # T threads on T CPUs, distinct cores first, so a run measures cores, not siblings.
      local cpus line
      cpus=$(echo "$order" | head -n "$t" | paste -sd, -)
      local pin=(taskset -c "$cpus")
      # Unpinned where taskset is missing or refuses the list.
      if ! command -v taskset >/dev/null || ! taskset -c "$cpus" true 2>/dev/null; then
        pin=()
        cpus="unpinned"
      fi
      line=$("${pin[@]}" "$veil" bench schedule --params default --nodes "$n" --threads "$t" --repetitions "$reps" --json)
      line=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r["cpus"]=sys.argv[2]; print(json.dumps(r))' "$line" "$cpus")
      printf 'json\t%s\n' "$line"
      echo "$line" >>"$jsonl"
    done
  done
  local table
  table=$(python3 - "$jsonl" "$model" <<'PY'
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(f"{sys.argv[2]}, `veil bench schedule --params default --nodes N --threads T --json`\n")
print("| nodes | threads | CPUs | decision ms | CPU ms | speed-up | efficiency | level bound | bootstraps | matches |")
print("|---|---|---|---|---|---|---|---|---|---|")
base = {}
for r in runs:
    n, t = r["nodes"], r["threads"]
    base.setdefault(n, r)
    b = base[n]
    t0 = b["threads"]
    speedup = b["decision_ms"] / r["decision_ms"]
    efficiency = speedup / (t / t0)
    bounds = r.get("levels", {}).get("speedup_bound", {})
    bound = bounds.get(str(t)) and bounds[str(t)] / bounds.get(str(t0), 1)
    print(f"| {n} | {t} | {r.get('cpus', '-')} | {r['decision_ms']:,.0f} | {r['decision_cpu_ms']:,.0f} | {speedup:.2f}x vs {t0} | "
          f"{100 * efficiency:.0f} % | {f'{bound:.2f}x' if bound else '-'} | {r['bootstraps']} | {r['matches_plaintext']} |")
print("\nspeed-up and level bound are against the row's first thread count; the level bound is what the")
print("decision's batch widths allow (levels.speedup_bound), whatever else limits the threads.")
PY
)
  echo "$table"
  if [ -n "$out" ]; then
    cp "$jsonl" "$out/thread_scaling.jsonl"
    echo "$table" >"$out/thread_scaling.md"
  fi
  rm -f "$jsonl"
}

case "${1:-}" in
  bundle) shift; bundle "$@" ;;
  run) shift; run "$@" ;;
  *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
