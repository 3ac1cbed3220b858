#!/usr/bin/env bash
# Drives build/bin/veil through its foundation commands and checks outputs and exit codes.
set -uo pipefail
VEIL="$1"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
failures=0
pass=0

expect() {  # expect NAME CONDITION-EXIT-CODE
  if [[ "$2" -eq 0 ]]; then pass=$((pass + 1)); else echo "FAIL: $1"; failures=$((failures + 1)); fi
}

# version, plain and JSON
out=$("$VEIL" version); expect "version prints a version" $([[ $out == "veil 0."* ]]; echo $?)
out=$("$VEIL" version --output json); expect "version json" $(echo "$out" | grep -q '"version"'; echo $?)

# help and usage errors
"$VEIL" --help >/dev/null; expect "--help exits 0" $?
"$VEIL" >/dev/null 2>&1; rc=$?; expect "no command is a usage error (2), got $rc" $([[ $rc -eq 2 ]]; echo $?)
"$VEIL" frobnicate >/dev/null 2>&1; rc=$?; expect "unknown command is a usage error (2), got $rc" $([[ $rc -eq 2 ]]; echo $?)

# config show: defaults, file, env precedence and sources
cat > "$WORK/ok.yaml" <<YAML
docker:
  socket: /tmp/file.sock
api:
  listen: 127.0.0.1:7700
YAML
out=$(env -u VEIL_CONFIG VEIL_DOCKER_SOCKET=/tmp/env.sock "$VEIL" --config "$WORK/ok.yaml" config show 2>&1)
expect "config show exits 0" $?
expect "env overrides file" $(echo "$out" | grep -Eq '^docker.socket +/tmp/env.sock +env VEIL_DOCKER_SOCKET'; echo $?)
expect "file overrides default, with line" $(echo "$out" | grep -Eq "^api.listen +127.0.0.1:7700 +file $WORK/ok.yaml:4"; echo $?)
out=$("$VEIL" --config "$WORK/ok.yaml" config show --output json)
expect "config show json" $(echo "$out" | grep -q '"VEIL_DOCKER_SOCKET"'; echo $?)

# bad YAML: file, line and problem on stderr, non-zero exit
printf 'docker:\n  socket: /tmp/a.sock\n bad: [x\n' > "$WORK/bad.yaml"
err=$("$VEIL" --config "$WORK/bad.yaml" config show 2>&1 >/dev/null); rc=$?
expect "bad yaml exits 1, got $rc" $([[ $rc -eq 1 ]]; echo $?)
expect "bad yaml names file:line" $(echo "$err" | grep -q "$WORK/bad.yaml:3:"; echo $?)
expect "bad yaml shows the line" $(echo "$err" | grep -q '3 |  bad: \[x'; echo $?)

# unknown key: did-you-mean
printf 'docker:\n  sockt: /x\n' > "$WORK/typo.yaml"
err=$("$VEIL" --config "$WORK/typo.yaml" config show 2>&1 >/dev/null); rc=$?
expect "unknown key exits 1" $([[ $rc -eq 1 ]]; echo $?)
expect "unknown key suggests" $(echo "$err" | grep -q "did you mean 'docker.socket'"; echo $?)

# unknown VEIL_* variable: warned, not fatal
err=$(VEIL_DOCKR_SOCKET=/x "$VEIL" config show 2>&1 >/dev/null); rc=$?
expect "unknown env var is not fatal" $rc
expect "unknown env var is warned about" $(echo "$err" | grep -q "warning: unknown environment variable VEIL_DOCKR_SOCKET"; echo $?)

# a missing config file is a usage error caught before running
"$VEIL" --config "$WORK/none.yaml" config show >/dev/null 2>&1; rc=$?
expect "missing config file is rejected (2), got $rc" $([[ $rc -eq 2 ]]; echo $?)

# job validate: canonical form on success, located error on a bad spec
digest=$(printf 'b%.0s' $(seq 64))
printf 'name: web\nimage: 127.0.0.1:5000/web@sha256:%s\nresources: {cpu: 250m, memory: 64Mi}\n' "$digest" > "$WORK/job.yaml"
out=$("$VEIL" job validate "$WORK/job.yaml" --output json); rc=$?
expect "job validate exits 0" $rc
expect "job validate quantises cpu (250m -> 25 units)" $(echo "$out" | grep -q '"cpu":25'; echo $?)
printf 'name: web\nimage: nginx:latest\nresources: {cpu: 1, memory: 1}\n' > "$WORK/bad-job.yaml"
err=$("$VEIL" job validate "$WORK/bad-job.yaml" 2>&1 >/dev/null); rc=$?
expect "bad job exits 1" $([[ $rc -eq 1 ]]; echo $?)
expect "bad job names file:line:col and field" $(echo "$err" | grep -q "bad-job.yaml:2:8: image:"; echo $?)

echo "$pass passed, $failures failed"
[[ $failures -eq 0 ]]
