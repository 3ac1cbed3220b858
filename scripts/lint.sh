#!/usr/bin/env bash
# clang-tidy on the C++ sources changed against HEAD (or all with --all), using the build's
# compile_commands.json. Exits non-zero when clang-tidy reports an error.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD_DIR="${1:-build}"
shift || true
if [[ "${1:-}" == "--all" ]]; then
  files=$(git ls-files 'src/*.cc')
else
  files=$( (git diff --name-only --diff-filter=d HEAD; git ls-files --others --exclude-standard) | grep -E '^src/.*\.cc$' || true)
fi
[[ -z "$files" ]] && { echo "lint: no changed sources"; exit 0; }
echo "$files" | xargs clang-tidy -p "$BUILD_DIR" --quiet
