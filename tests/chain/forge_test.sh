#!/usr/bin/env bash
# ctest entry for the `contracts` label: runs the VeilRegistry unit, fuzz and invariant tests with
# npm's forge. Build output and cache go under the build tree so the source tree stays clean and
# the C++ build's own forge run (artifact generation) never races with this one.
set -euo pipefail
ROOT="${VEIL_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
WORK="${VEIL_BINARY_DIR:-$ROOT/build}/contracts-test"
FORGE="$ROOT/node_modules/@foundry-rs/forge-linux-amd64/bin/forge"
if [[ ! -x "$FORGE" ]]; then
  echo "forge_test.sh: $FORGE missing; run scripts/setup.sh (npm ci) first" >&2
  exit 1
fi
mkdir -p "$WORK"
# foundry.toml names the compiler shim relative to contracts/, so forge must run from there.
cd "$ROOT/contracts"
exec "$FORGE" test --out "$WORK/out" --cache-path "$WORK/cache" "$@"
