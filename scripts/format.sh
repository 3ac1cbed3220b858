#!/usr/bin/env bash
# clang-format every C++ file changed against main (or all with --all), in place.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ "${1:-}" == "--all" ]]; then
  files=$(git ls-files '*.cc' '*.h')
else
  files=$( (git diff --name-only --diff-filter=d HEAD; git ls-files --others --exclude-standard) | grep -E '\.(cc|h)$' || true)
fi
[[ -z "$files" ]] && { echo "format: nothing to format"; exit 0; }
echo "$files" | xargs clang-format -i
echo "format: $(echo "$files" | wc -l) file(s)"
