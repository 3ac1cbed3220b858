#!/usr/bin/env bash
# The project's test command (README, `make test`, `.ci/run`): sets up the machine, builds
# once, runs every ctest suite — unit, integration, interop and contracts are all registered
# with ctest and labelled — then prints a summary and exits non-zero on any failure.
#
# Usage: scripts/test.sh [-L LABEL] [extra ctest args...]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
START=$(date +%s)

scripts/setup.sh

echo "[test] running ctest (labels: $(ctest --test-dir build --print-labels 2>/dev/null | tail -n +2 | tr -d ' ' | paste -sd, -))"
status=0
ctest --test-dir build --output-on-failure --timeout 900 -j2 "$@" || status=$?

echo "[test] finished in $(( $(date +%s) - START )) s"
exit $status
