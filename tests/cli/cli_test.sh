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

# kubectl/nomad habits (#20): a flag of the app or of a noun may also follow the verb, with
# the same effect as before it.
before=$(env -u VEIL_CONFIG "$VEIL" --config "$WORK/ok.yaml" config show 2>/dev/null)
after=$(env -u VEIL_CONFIG "$VEIL" config show --config "$WORK/ok.yaml" 2>/dev/null); rc=$?
expect "config show --config FILE (after the verb) exits 0, got $rc" $([[ $rc -eq 0 ]]; echo $?)
expect "--config after the verb reads the file" $(echo "$after" | grep -Eq "^api.listen +127.0.0.1:7700 +file $WORK/ok.yaml:4"; echo $?)
expect "--config after the verb is the same as before it" $([[ "$before" == "$after" ]]; echo $?)
env -u VEIL_CONFIG "$VEIL" config show --config "$WORK/none.yaml" >/dev/null 2>&1; rc=$?
expect "a missing --config after the verb is still a usage error (2), got $rc" $([[ $rc -eq 2 ]]; echo $?)
"$VEIL" config show --no-such-flag >/dev/null 2>&1; rc=$?
expect "an unknown flag after the verb is still a usage error (2), got $rc" $([[ $rc -eq 2 ]]; echo $?)
# `runtime --driver` after `run`: the process driver runs the command and prints its id.
RT=(--driver process --state-dir "$WORK/rt-state")
id=$("$VEIL" runtime run --image /bin/echo "${RT[@]}" -- hello 2>"$WORK/err"); rc=$?
expect "runtime run --image I --driver process -- CMD exits 0, got $rc: $(cat "$WORK/err")" $([[ $rc -eq 0 ]]; echo $?)
expect "runtime run printed an id, got '$id'" $([[ $id =~ ^[0-9a-f]{8,}$ ]]; echo $?)
expect "--driver after the verb selects that driver" $(grep -q '^veil: driver process: process requested' "$WORK/err"; echo $?)
listed=$("$VEIL" runtime ps -a "${RT[@]}" 2>/dev/null | grep -c "^${id:0:12} ")
expect "the container runs under the --state-dir given after the verb" $([[ $listed -eq 1 ]]; echo $?)
"$VEIL" runtime rm -f "$id" "${RT[@]}" >/dev/null 2>&1
# --driver docker after the verb is taken too: the error is about the engine, not the arguments.
"$VEIL" runtime run --image busybox --driver docker --docker-socket "$WORK/no.sock" -- true >/dev/null 2>"$WORK/err"; rc=$?
expect "runtime run ... --driver docker without an engine exits 1, got $rc" $([[ $rc -eq 1 ]]; echo $?)
expect "its error names the engine socket, not the command line: $(cat "$WORK/err")" $(grep -q "$WORK/no.sock" "$WORK/err"; echo $?)

# -o json|yaml|wide on every read (#20): YAML is the same structure as the JSON (types kept:
# "127.0.0.1:7700" stays a string, an unset value is null), wide is a table.
same_data() {  # JSON-FILE YAML-FILE: the two documents hold the same data
  python3 -c 'import json, sys, yaml
sys.exit(json.load(open(sys.argv[1])) != yaml.safe_load(open(sys.argv[2])))' "$1" "$2"
}
"$VEIL" version -o json > "$WORK/v.json"; "$VEIL" version -o yaml > "$WORK/v.yaml"; rc=$?
expect "version -o yaml exits 0" $rc
expect "version -o yaml is the JSON's data" $(same_data "$WORK/v.json" "$WORK/v.yaml"; echo $?)
env -u VEIL_CONFIG "$VEIL" config show -o json --config "$WORK/ok.yaml" > "$WORK/c.json"
env -u VEIL_CONFIG "$VEIL" config show -o yaml --config "$WORK/ok.yaml" > "$WORK/c.yaml"; rc=$?
expect "config show -o yaml --config FILE exits 0" $rc
expect "config show -o yaml is the JSON's data" $(same_data "$WORK/c.json" "$WORK/c.yaml"; echo $?)
expect "config show -o yaml keeps an address a string" $(grep -A3 '^api.listen:' "$WORK/c.yaml" | grep -q 'value: "127.0.0.1:7700"'; echo $?)
env -u VEIL_CONFIG "$VEIL" config show -o wide --config "$WORK/ok.yaml" > "$WORK/c.wide"; rc=$?
expect "config show -o wide is the table" $([[ $rc -eq 0 ]] && grep -Eq '^KEY +VALUE +SOURCE' "$WORK/c.wide"; echo $?)
"$VEIL" version -o xml >/dev/null 2>&1; rc=$?
expect "an unknown -o format is a usage error (2), got $rc" $([[ $rc -eq 2 ]]; echo $?)
# job ls needs a node: against one that does not answer, the flags are taken and the error is
# the connection to the address in the --config file given after the verb.
printf 'api:\n  listen: 127.0.0.1:1\n' > "$WORK/noapi.yaml"
env -u VEIL_CONFIG -u VEIL_API_ADDR VEIL_API_TOKEN=unused "$VEIL" job ls -o yaml --config "$WORK/noapi.yaml" >/dev/null 2>"$WORK/err"; rc=$?
expect "job ls -o yaml --config FILE without a node exits 1 (not 2), got $rc" $([[ $rc -eq 1 ]]; echo $?)
expect "its error is the connection to the file's address: $(cat "$WORK/err")" $(grep -q 'no veil node answers at http://127.0.0.1:1' "$WORK/err"; echo $?)
# --json, where a command had it, is -o json.
SIM=(sim swim --members 8 --periods 20 --seed 3)
"$VEIL" "${SIM[@]}" --json > "$WORK/s1.json"; "$VEIL" "${SIM[@]}" -o json > "$WORK/s2.json"; "$VEIL" "${SIM[@]}" -o yaml > "$WORK/s3.yaml"
expect "sim swim --json is -o json, and -o yaml the same data" $(python3 -c 'import json, sys, yaml
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])); c = yaml.safe_load(open(sys.argv[3]))
for d in (a, b, c): d.pop("elapsed_s", None)
sys.exit(not (a == b == c))' "$WORK/s1.json" "$WORK/s2.json" "$WORK/s3.yaml"; echo $?)
# runtime ps -o wide: the full id, the full image and the labels.
id=$("$VEIL" runtime run --image /bin/sleep -l team=blue "${RT[@]}" -- sleep 30 2>/dev/null)
"$VEIL" runtime ps -o wide "${RT[@]}" > "$WORK/ps.wide" 2>/dev/null
expect "runtime ps -o wide shows the full id" $(grep -q "^$id " "$WORK/ps.wide"; echo $?)
expect "runtime ps -o wide shows labels and the full image" $(grep -q 'team=blue.*/bin/sleep$' "$WORK/ps.wide"; echo $?)
"$VEIL" runtime ps -o yaml "${RT[@]}" > "$WORK/ps.yaml" 2>/dev/null
expect "runtime ps -o yaml lists the container" $(python3 -c 'import sys, yaml
r = yaml.safe_load(open(sys.argv[1])); sys.exit(not (len(r) == 1 and r[0]["labels"] == {"team": "blue"} and r[0]["id"] == sys.argv[2]))' "$WORK/ps.yaml" "$id"; echo $?)
"$VEIL" runtime rm -f "$id" "${RT[@]}" >/dev/null 2>&1

# p2p identify (JSON only before) and p2p ping take -o yaml too, against a local peer.
timeout 60 "$VEIL" p2p peer --listen /ip4/127.0.0.1/tcp/0 > "$WORK/peer.out" 2>/dev/null &
peer_pid=$!
for _ in $(seq 1 50); do [[ -s "$WORK/peer.out" ]] && break; sleep 0.1; done
addr=$(head -1 "$WORK/peer.out")
"$VEIL" p2p identify "$addr" > "$WORK/id.json"; "$VEIL" p2p identify "$addr" -o yaml > "$WORK/id.yaml"; rc=$?
expect "p2p identify -o yaml exits 0" $rc
expect "p2p identify -o yaml is the JSON's data" $(same_data "$WORK/id.json" "$WORK/id.yaml"; echo $?)
"$VEIL" p2p ping "$addr" -c 2 -o yaml > "$WORK/ping.yaml"; rc=$?
expect "p2p ping -c 2 -o yaml is two YAML documents with an rtt" $([[ $rc -eq 0 ]] && python3 -c 'import sys, yaml
d = list(yaml.safe_load_all(open(sys.argv[1]))); sys.exit(not (len(d) == 2 and all(x["rtt_ms"] >= 0 for x in d)))' "$WORK/ping.yaml"; echo $?)
kill "$peer_pid" 2>/dev/null; wait "$peer_pid" 2>/dev/null

# veil completion bash|zsh (#20): the script loads in bash and completes nouns, verbs and flags.
complete_words() {  # WORD...: what _veil offers for the last word after `veil WORD...`
  bash -c 'source <("$0" completion bash) || exit 9; COMP_WORDS=(veil "$@"); COMP_CWORD=$#; _veil; echo "${COMPREPLY[*]}"' "$VEIL" "$@"
}
out=$(complete_words jo); expect "completion: 'veil jo' completes to job, got '$out'" $([[ $out == job ]]; echo $?)
out=$(complete_words job ru); expect "completion: 'veil job ru' completes to run, got '$out'" $([[ $out == run ]]; echo $?)
out=$(complete_words job r); expect "completion: 'veil job r' offers run and revert, got '$out'" $([[ $out == 'run revert' ]]; echo $?)
out=$(complete_words runtime run --dr); expect "completion: a noun's flag after the verb ('runtime run --dr' -> --driver), got '$out'" $([[ $out == --driver ]]; echo $?)
out=$(complete_words config show --con); expect "completion: the app's flag after the verb ('config show --con' -> --config), got '$out'" $([[ $out == --config ]]; echo $?)
out=$(complete_words --config job v); expect "completion: a flag's value is not taken for a noun ('--config job v' -> version), got '$out'" $([[ $out == version ]]; echo $?)
out=$(complete_words --help-all job ru); expect "completion: a flag without a value does not swallow the next word ('--help-all job ru' -> run), got '$out'" $([[ $out == run ]]; echo $?)
"$VEIL" completion bash > "$WORK/veil.bash"; "$VEIL" completion zsh > "$WORK/veil.zsh"; rc=$?
expect "completion zsh exits 0" $rc
expect "completion zsh is the bash script through bashcompinit" $([[ "$(head -1 "$WORK/veil.zsh")" == 'autoload -U +X bashcompinit && bashcompinit' ]] && diff -q <(tail -n +2 "$WORK/veil.zsh") "$WORK/veil.bash" >/dev/null; echo $?)
"$VEIL" completion fish >/dev/null 2>&1; rc=$?
expect "completion of an unknown shell is a usage error (2), got $rc" $([[ $rc -eq 2 ]]; echo $?)

# veil man --out DIR (#20, the Debian package's pages): one page per command, each a valid man page.
"$VEIL" man --out "$WORK/man" >/dev/null; rc=$?
expect "man exits 0, got $rc" $rc
pages=$(ls "$WORK/man" | wc -l); commands=$("$VEIL" completion bash | sed -n '/^_veil_flags/,/esac/p' | grep -c '") echo')
expect "man writes one page per command ($pages pages, $commands commands)" $([[ $pages -eq $commands ]]; echo $?)
expect "man: veil-job-run.1 names the command and its flags" $(grep -q '^\.B veil job run' "$WORK/man/veil-job-run.1" && grep -q 'fB\\-\\-wait\\fR$' "$WORK/man/veil-job-run.1"; echo $?)
if command -v man >/dev/null; then
  rendered=$(MANWIDTH=100 man -l "$WORK/man/veil-job-run.1" 2>&1)
  expect "man: the page renders with its options" $(echo "$rendered" | grep -q -- '--timeout INT'; echo $?)
fi
expect "man: veil.1 documents the exit codes" $(grep -q '^\.SH EXIT STATUS' "$WORK/man/veil.1"; echo $?)

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
# issue 19: a health check on a port the job does not expose, a duration without a unit
printf 'name: web\nimage: 127.0.0.1:5000/web@sha256:%s\nresources: {cpu: 1, memory: 1}\nports: [{container: 80}]\nhealth:\n  http: {path: /, port: 8080}\n' "$digest" > "$WORK/health-job.yaml"
err=$("$VEIL" job validate "$WORK/health-job.yaml" 2>&1 >/dev/null); rc=$?
expect "job validate rejects an unexposed health port (1), got $rc" $([[ $rc -eq 1 ]]; echo $?)
expect "the error names line, column and field" $(echo "$err" | grep -q "health-job.yaml:6:25: health.http.port: port 8080 is not exposed"; echo $?)
printf 'name: web\nimage: 127.0.0.1:5000/web@sha256:%s\nresources: {cpu: 1, memory: 1}\ntype: batch\nrestart: {delay: 15}\n' "$digest" > "$WORK/dur-job.yaml"
err=$("$VEIL" job validate "$WORK/dur-job.yaml" 2>&1 >/dev/null)
expect "job validate rejects a duration without a unit" $(echo "$err" | grep -q "dur-job.yaml:5:18: restart.delay: '15' is not a duration"; echo $?)

# Hostile input (#21): every case below must end in exit 1 with exactly one line on stderr,
# "veil: error: ...", escaped (no control bytes, valid UTF-8) -- never SIGABRT (134), never a
# read without end. `timeout 20` turns a hang into a failure (124).
stderr_is_printable() {  # FILE: valid UTF-8 without control characters other than newlines
  python3 -c 'import sys
t = open(sys.argv[1], "rb").read().decode("utf-8")
sys.exit(any((ord(c) < 32 and c != "\n") or 0x7f <= ord(c) <= 0x9f for c in t))' "$1" 2>/dev/null
}
expect_one_line_error() {  # NAME COMMAND...
  local name="$1"; shift
  timeout 20 "$@" >/dev/null 2>"$WORK/err"; local rc=$?
  expect "$name: exits 1 (not a crash or a hang), got $rc" $([[ $rc -eq 1 ]]; echo $?)
  local lines; lines=$(wc -l < "$WORK/err")
  expect "$name: one line on stderr, got $lines: $(head -c 300 "$WORK/err" | tr -d '\0')" $([[ $lines -eq 1 ]]; echo $?)
  expect "$name: the line is 'veil: error: ...'" $(grep -q '^veil: error: ' "$WORK/err"; echo $?)
  expect "$name: stderr is escaped" $(stderr_is_printable "$WORK/err"; echo $?)
}
# `job run` reaches the API client only with a token; none of these cases may get that far.
RUN_ENV=(env VEIL_API_TOKEN=unused VEIL_API_ADDR=127.0.0.1:1)
python3 -c 'import random, sys; random.seed(21); sys.stdout.buffer.write(bytes(random.getrandbits(8) for _ in range(4096)))' \
  > "$WORK/random.yaml"
expect_one_line_error "job run of random bytes" "${RUN_ENV[@]}" "$VEIL" job run "$WORK/random.yaml"
expect_one_line_error "job validate of random bytes" "$VEIL" job validate "$WORK/random.yaml"
{ cat "$WORK/job.yaml"; printf '# caf\xe9 au lait (Latin-1)\n'; } > "$WORK/latin1.yaml"
expect_one_line_error "job run of a spec with a Latin-1 comment" "${RUN_ENV[@]}" "$VEIL" job run "$WORK/latin1.yaml"
expect "the Latin-1 error names line and column" $(grep -qF 'latin1.yaml:4:6: a job spec must be UTF-8 text; byte \xe9' "$WORK/err"; echo $?)
echo '[1,2]' > "$WORK/nodes.json"
expect_one_line_error "job plan with --nodes [1,2]" "$VEIL" job plan "$WORK/job.yaml" --nodes "$WORK/nodes.json"
echo '[{"cpu": 70000}]' > "$WORK/nodes.json"
expect_one_line_error "job plan with a capacity over 16 bits" "$VEIL" job plan "$WORK/job.yaml" --nodes "$WORK/nodes.json"
echo '[{"cpu": 100, "memory": 100, "disk": 100, "gpu": 0, "latency": 5, "hash": "ab", "timestamp_ms": 1}]' > "$WORK/nodes.json"
"$VEIL" job plan "$WORK/job.yaml" --nodes "$WORK/nodes.json" >/dev/null 2>&1
expect "job plan takes records as GET /v1/telemetry returns them" $?
echo '[{"cpu": 100, "memroy": 100}]' > "$WORK/nodes.json"
expect_one_line_error "job plan with a misspelt key in --nodes" "$VEIL" job plan "$WORK/job.yaml" --nodes "$WORK/nodes.json"
expect_one_line_error "job plan with --nodes /dev/zero" "$VEIL" job plan "$WORK/job.yaml" --nodes /dev/zero
expect_one_line_error "job validate /dev/zero" "$VEIL" job validate /dev/zero
expect "/dev/zero is named as a device" $(grep -q 'job spec /dev/zero is a character device' "$WORK/err"; echo $?)
expect_one_line_error "--config /dev/zero" env -u VEIL_CONFIG "$VEIL" --config /dev/zero config show
expect "the config error names the file" $(grep -q 'config file /dev/zero is a character device' "$WORK/err"; echo $?)
printf 'docker:\n  socket: /tmp/caf\xe9.sock\n' > "$WORK/latin1-config.yaml"
expect_one_line_error "config show --output json of a Latin-1 config" \
  env -u VEIL_CONFIG "$VEIL" --config "$WORK/latin1-config.yaml" config show --output json
expect_one_line_error "config show --output json with a Latin-1 environment value" \
  env -u VEIL_CONFIG VEIL_DOCKER_SOCKET=$'/tmp/caf\xe9.sock' "$VEIL" config show --output json
mkfifo "$WORK/fifo.yaml"
expect_one_line_error "job validate of a FIFO nobody writes" "$VEIL" job validate "$WORK/fifo.yaml"
{ cat "$WORK/job.yaml"; yes '# padding padding padding padding' | head -c 104857600; } > "$WORK/huge.yaml"
expect_one_line_error "job validate of a 100 MB spec" "$VEIL" job validate "$WORK/huge.yaml"
expect "the size error names the limit" $(grep -q 'a job spec may be at most 1 MiB' "$WORK/err"; echo $?)
rm -f "$WORK/huge.yaml"
printf 'name: "web\\e]0;pwned\\a\\e[2J"\nimage: x@sha256:%s\nresources: {cpu: 1, memory: 1}\n' "$digest" > "$WORK/esc.yaml"
timeout 20 "$VEIL" job validate "$WORK/esc.yaml" >/dev/null 2>"$WORK/err"; rc=$?
expect "a spec with escape sequences is refused (1), got $rc" $([[ $rc -eq 1 ]]; echo $?)
expect "its error shows the escapes as text" $(grep -qF "'web\\x1b]0;pwned\\x07\\x1b[2J'" "$WORK/err"; echo $?)
expect "its error carries no control bytes" $(stderr_is_printable "$WORK/err"; echo $?)
printf 'name: web\nimage: x@sha256:%s\nresources: {cpu: 1, memory: nan}\n' "$digest" > "$WORK/nan.yaml"
"$VEIL" job validate "$WORK/nan.yaml" >/dev/null 2>"$WORK/err"; rc=$?
expect "memory: nan is refused (1), got $rc" $([[ $rc -eq 1 ]]; echo $?)
expect "memory: nan is located" $(grep -q "nan.yaml:3:[0-9]*: resources.memory: 'nan' is not a size" "$WORK/err"; echo $?)

# bench schedule: a node's round (no reservation) and --reserve; both equal the plaintext
# reference, and the reservation costs bootstraps of its own.
round=$("$VEIL" bench schedule --params test --nodes 4 --replicas 2 --repetitions 1 --json 2>/dev/null); rc=$?
reserved=$("$VEIL" bench schedule --params test --nodes 4 --replicas 2 --repetitions 1 --reserve --json 2>/dev/null); rc2=$?
expect "bench schedule with and without --reserve exit 0, got $rc and $rc2" $([[ $rc -eq 0 && $rc2 -eq 0 ]]; echo $?)
expect "bench schedule --reserve matches the reference and costs more bootstraps" $(python3 -c 'import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
ok = a["matches_plaintext"] and b["matches_plaintext"] and not a["reserve"] and b["reserve"]
sys.exit(0 if ok and b["bootstraps"] > a["bootstraps"] > 0 else 1)' "$round" "$reserved"; echo $?)
# Its level profile: every bootstrap of a decision runs in a batch, one thread has no speed-up,
# more threads never lose any, and a thread reads the key once per batch.
expect "bench schedule's levels account for every bootstrap" $(python3 -c 'import json, sys
d = json.loads(sys.argv[1]); lv = d["levels"]; bound = lv["speedup_bound"]
ok = lv["batched_bootstraps"] == d["bootstraps"] and bound["1"] == 1.0 and lv["key_streams"]["1"] == lv["batches"]
ok = ok and all(bound[str(a)] <= bound[str(b)] for a, b in ((1, 2), (2, 4), (4, 8), (8, 16)))
sys.exit(0 if ok and lv["outside_batches_ms"] >= 0 else 1)' "$round"; echo $?)

echo "$pass passed, $failures failed"
[[ $failures -eq 0 ]]
