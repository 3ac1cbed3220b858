#!/usr/bin/env python3
"""Interleaved A/B runs of Google Benchmark binaries (e.g. fhe_micro_bench before and after a change).

    bench/ab_micro.py OLD_BINARY,NEW_BINARY 'BM_KsPbs$|BM_KeySwitch$' 7

runs each binary once per round, alternating, for the given number of rounds, and prints the
median real and CPU time of every benchmark per binary. Alternating runs spread the machine's
drift (other tenants, frequency changes) over both sides instead of biasing one of them.
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
    results = {b: {} for b in binaries}
    for _ in range(rounds):
        for binary in binaries:
            run = subprocess.run([binary, "--benchmark_filter=" + pattern, "--benchmark_format=json"],
                                 capture_output=True, text=True, check=True)
            for bm in json.loads(run.stdout)["benchmarks"]:
                results[binary].setdefault(bm["name"], []).append((bm["real_time"], bm["cpu_time"], bm["time_unit"]))
    for binary in binaries:
        print(binary)
        for name, runs in results[binary].items():
            real = [r[0] for r in runs]
            cpu = [r[1] for r in runs]
            print(f"  {name:36s} real {statistics.median(real):10.3f}  cpu {statistics.median(cpu):10.3f} {runs[0][2]}"
                  f"  (n={len(runs)}, real {min(real):.3f}-{max(real):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
