#!/usr/bin/env python3
"""Interleaved A/B runs of Google Benchmark binaries (e.g. fhe_micro_bench before and after a change).

    bench/ab_micro.py OLD_BINARY,NEW_BINARY 'BM_KsPbs$|BM_KeySwitch$' 7

runs each binary once per round, alternating, for the given number of rounds, and prints the
median real and CPU time of every benchmark per binary. Alternating runs spread the machine's
drift (other tenants, frequency changes) over both sides instead of biasing one of them; the
order is reversed every other round, because on a shared VM the run that comes first in a pair
can be consistently faster or slower (a prefetch change measured 4-11 % faster with a fixed
order and 0.8 % slower to 2.8 % faster reversed). With two binaries it also prints, per
benchmark, the median of the paired ratios (second / first) and in how many rounds the second
was faster: a difference smaller than the spread of those ratios is not one.
"""
import json
import statistics
import subprocess
import sys


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    binaries = sys.argv[1].split(",")
    pattern, rounds = sys.argv[2], int(sys.argv[3])
    results = [{} for _ in binaries]  # by position: the same binary may be given twice (A/A)
    for round_index in range(rounds):
        order = range(len(binaries)) if round_index % 2 == 0 else reversed(range(len(binaries)))
        for i in order:
            run = subprocess.run([binaries[i], "--benchmark_filter=" + pattern, "--benchmark_format=json"],
                                 capture_output=True, text=True, check=True)
            for bm in json.loads(run.stdout)["benchmarks"]:
                results[i].setdefault(bm["name"], []).append((bm["real_time"], bm["cpu_time"], bm["time_unit"]))
    for i, binary in enumerate(binaries):
        print(binary)
        for name, runs in results[i].items():
            real = [r[0] for r in runs]
            cpu = [r[1] for r in runs]
            print(f"  {name:36s} real {statistics.median(real):10.3f}  cpu {statistics.median(cpu):10.3f} {runs[0][2]}"
                  f"  (n={len(runs)}, real {min(real):.3f}-{max(real):.3f})")
    if len(binaries) == 2:
        first, second = results[0], results[1]
        print("paired (second / first, real time)")
        for name, runs in first.items():
            ratios = [b[0] / a[0] for a, b in zip(runs, second.get(name, []))]
            if ratios:
                faster = sum(r < 1 for r in ratios)
                print(f"  {name:36s} median ratio {statistics.median(ratios):.3f}  (range {min(ratios):.3f}-"
                      f"{max(ratios):.3f}; second faster in {faster}/{len(ratios)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
