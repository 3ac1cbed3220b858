#!/usr/bin/env bash
# End to end: `veil keys dkg`, one process per member over libp2p on loopback (INSECURE test
# parameters): 2-of-3 and 3-of-5 committees produce identical public files and one sealed share
# per member, the keys encrypt, evaluate and decrypt through t members' partials (t - 1 do not),
# and runs that cannot finish — a member that never comes, a member configured differently, a
# member killed mid-run — make every member exit 1 naming it, with no key set left behind.
set -euo pipefail
VEIL=${1:?usage: dkg_cli_test.sh path/to/veil}
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"
fail() {
  echo "FAIL: $*" >&2
  for f in "$WORK"/*.err; do [ -e "$f" ] && { echo "--- $f" >&2; tail -n 5 "$f" >&2; }; done
  exit 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

for i in 1 2 3 4 5; do "$VEIL" keys member-keygen --out "m$i" >/dev/null; done

# members_args N PORT...: the --member list of an N-member committee.
declare -a PORTS
members_args() {
  local n=$1 i
  for ((i = 1; i <= n; i++)); do printf -- '--member m%d/member.pub=/ip4/127.0.0.1/tcp/%d ' "$i" "${PORTS[$i]}"; done
}
pick_ports() { local i; for ((i = 1; i <= $1; i++)); do PORTS[$i]=$(free_port); done; }

# start_member RUN I N T [extra flags]: member I of an N-member run named RUN, in the background.
start_member() {
  local run=$1 i=$2 n=$3 t=$4
  shift 4
  # shellcheck disable=SC2046
  "$VEIL" keys dkg --threshold "$t" --member-key "m$i" --listen "/ip4/127.0.0.1/tcp/${PORTS[$i]}" \
    $(members_args "$n") --params test --out "$run/out$i" "$@" >"$run.$i.out" 2>"$run.$i.err" &
  PIDS+=($!)
  eval "PID_${run}_$i=$!"
}
# wait_member RUN I: sets rc to its exit status (in this shell: a subshell cannot wait for it).
wait_member() {
  local pid_var="PID_$1_$2"
  rc=0
  wait "${!pid_var}" || rc=$?
}

# ---- usage errors: exit 2 before any network ----
pick_ports 3
usage_case() {
  local why=$1
  shift
  local rc=0
  "$VEIL" keys dkg "$@" --params test >/dev/null 2>usage.err || rc=$?
  [ "$rc" = 2 ] || fail "$why: exit $rc, want 2 ($(cat usage.err))"
}
# shellcheck disable=SC2046
{
  usage_case "threshold 1" --threshold 1 --member-key m1 --listen /ip4/127.0.0.1/tcp/0 $(members_args 3) --out u
  usage_case "threshold above an honest majority" --threshold 3 --member-key m1 --listen /ip4/127.0.0.1/tcp/0 \
    $(members_args 3) --out u
  usage_case "this member not listed" --threshold 2 --member-key m4 --listen /ip4/127.0.0.1/tcp/0 $(members_args 3) \
    --out u
  usage_case "a member listed twice" --threshold 2 --member-key m1 --listen /ip4/127.0.0.1/tcp/0 $(members_args 3) \
    --member "m2/member.pub=/ip4/127.0.0.1/tcp/1" --out u
  usage_case "two members" --threshold 2 --member-key m1 --listen /ip4/127.0.0.1/tcp/0 $(members_args 2) --out u
  mkdir -p full && touch full/x
  usage_case "a non-empty out" --threshold 2 --member-key m1 --listen /ip4/127.0.0.1/tcp/0 $(members_args 3) --out full
  usage_case "a member without an address" --threshold 2 --member-key m1 --listen /ip4/127.0.0.1/tcp/0 \
    --member m1/member.pub --member m2/member.pub --member m3/member.pub --out u
}
[ -e u ] && fail "a usage error created the output directory"

# ---- complete runs ----
# check_run RUN N T: every member succeeded with a complete, identical key set that decrypts
# through any t members and not through t - 1.
check_run() {
  local run=$1 n=$2 t=$3 i f
  for ((i = 1; i <= n; i++)); do
    wait_member "$run" "$i"
    [ "$rc" = 0 ] || fail "$run: member $i exited $rc: $(tail -n 3 "$run.$i.err")"
  done
  [ -z "$(find "$run" -maxdepth 1 -name '.*.tmp')" ] || fail "$run: temporary directories left behind"
  for ((i = 1; i <= n; i++)); do
    local files
    files=$(cd "$run/out$i" && ls | tr '\n' ' ')
    # The member's id follows the order of the keys, not of the command line: read it back.
    local share
    share=$(cd "$run/out$i" && ls share-*.sealed)
    [ "$(echo "$share" | wc -w)" = 1 ] || fail "$run: member $i holds shares $share"
    [ "$files" = "committee.bin hashes.json public.key server.compressed.key $share squash.key " ] ||
      fail "$run: member $i wrote: $files"
    [ "$(stat -c %a "$run/out$i/$share")" = 600 ] || fail "$run: $share is not mode 0600"
    for f in committee.bin hashes.json public.key server.compressed.key squash.key; do
      cmp -s "$run/out1/$f" "$run/out$i/$f" || fail "$run: $f differs between members 1 and $i"
    done
    grep -q "generated without a dealer" "$run.$i.out" || fail "$run: member $i printed $(cat "$run.$i.out")"
    grep -q "round body openings" "$run.$i.err" || fail "$run: member $i printed no progress"
    # Copy each member's own share beside the public files, as `keys partial-decrypt` reads them.
    mkdir -p "$run/all"
    cp "$run/out$i/$share" "$run/all/"
    echo "$i ${share//[!0-9]/}" >>"$run/ids"
  done
  cp "$run/out1/"{committee.bin,hashes.json,public.key,server.compressed.key,squash.key} "$run/all/"
  grep -q "\"threshold\": $t" "$run/all/hashes.json" || fail "$run: hashes.json: $(cat "$run/all/hashes.json")"

  local a=$((RANDOM % 30000)) b=$((RANDOM % 30000))
  "$VEIL" fhe encrypt --keys "$run/all" --type u16 "$a" --out "$run/a.ct" >/dev/null
  "$VEIL" fhe encrypt --keys "$run/all" --type u16 "$b" --out "$run/b.ct" >/dev/null
  "$VEIL" fhe eval --keys "$run/all" --op add "$run/a.ct" "$run/b.ct" --out "$run/sum.ct" >/dev/null
  "$VEIL" fhe eval --keys "$run/all" --op ge "$run/a.ct" "$run/b.ct" --out "$run/ge.ct" >/dev/null
  local partials=() ge_partials=() dir id
  while read -r dir id; do
    "$VEIL" keys partial-decrypt --member-key "m$dir" --share "$run/all/share-$id.sealed" --ct "$run/sum.ct" \
      --out "$run/p$id.share" >/dev/null
    "$VEIL" keys partial-decrypt --member-key "m$dir" --share "$run/all/share-$id.sealed" --ct "$run/ge.ct" \
      --out "$run/g$id.share" >/dev/null
    partials+=("$run/p$id.share")
    ge_partials+=("$run/g$id.share")
  done < <(shuf "$run/ids")
  local want_ge=false
  [ "$a" -ge "$b" ] && want_ge=true
  [ "$("$VEIL" keys combine --keys "$run/all" "${partials[@]:0:$t}")" = $((a + b)) ] ||
    fail "$run: $t partials do not decrypt $a + $b"
  [ "$("$VEIL" keys combine --keys "$run/all" "${ge_partials[@]:0:$t}")" = "$want_ge" ] ||
    fail "$run: $t partials do not decrypt $a >= $b"
  "$VEIL" keys combine --keys "$run/all" "${partials[@]:0:$((t - 1))}" >/dev/null 2>&1 &&
    fail "$run: $((t - 1)) partials decrypted"
  echo "$run: $t-of-$n DKG OK ($a + $b, $a >= $b)"
}

mkdir -p r3
pick_ports 3
for i in 1 2 3; do start_member r3 "$i" 3 2; done
check_run r3 3 2

mkdir -p r5
pick_ports 5
for i in 1 2 3 4 5; do start_member r5 "$i" 5 3; done
check_run r5 5 3

# ---- failed runs: every member exits 1 naming the culprit, no key set anywhere ----
# expect_failure RUN CULPRIT_DIR MEMBERS...: each listed member exited 1 and named the culprit.
culprit_id() {
  # The culprit's id is the rank of its key among the members' keys (sorted bytewise).
  local n=$1 culprit=$2 i
  for ((i = 1; i <= n; i++)); do echo "$(cut -d' ' -f2 "m$i/member.pub") $i"; done | LC_ALL=C sort |
    awk -v c="$culprit" '$2 == c { print NR }'
}
expect_failure() {
  local run=$1 want=$2
  shift 2
  local i
  for i in "$@"; do
    wait_member "$run" "$i"
    [ "$rc" = 1 ] || fail "$run: member $i exited $rc, want 1"
    grep -q "veil: error: dkg aborted: .*$want" "$run.$i.err" || fail "$run: member $i did not name $want"
    [ -e "$run/out$i" ] && fail "$run: member $i left $run/out$i"
  done
  [ -z "$(find "$run" -maxdepth 1 -name '.*.tmp')" ] || fail "$run: temporary directories left behind"
  echo "$run: every member named $want"
}

# A member that never starts: named with its address once the start timeout passes.
mkdir -p absent
pick_ports 3
start_member absent 1 3 2 --start-timeout 2
start_member absent 2 3 2 --start-timeout 2
expect_failure absent "member $(culprit_id 3 3) (.*/tcp/${PORTS[3]}" 1 2

# A member configured with another threshold (3 of 5 where the others say 2 of 5), arriving once
# the others are connected to each other.
mkdir -p odd
pick_ports 5
for i in 1 2 3 4; do start_member odd "$i" 5 2 --start-timeout 30; done
for _ in $(seq 1 500); do
  all=1
  for i in 1 2 3 4; do [ "$(grep -c "connected to" "odd.$i.err")" -ge 3 ] || all=0; done
  [ "$all" = 1 ] && break
  sleep 0.02
done
start_member odd 5 5 3 --start-timeout 30
expect_failure odd "member $(culprit_id 5 5) " 1 2 3 4
wait_member odd 5
[ "$rc" = 1 ] || fail "the odd member exited $rc"

# A member killed mid-run: stopped (SIGSTOP) as soon as it is connected, so that the run cannot
# finish without it, then killed; the others see its connections close.
mkdir -p killed
pick_ports 3
for i in 1 2; do start_member killed "$i" 3 2; done
start_member killed 3 3 2
victim=$PID_killed_3
for _ in $(seq 1 500); do
  grep -q "connected to" killed.3.err 2>/dev/null && break
  sleep 0.01
done
kill -STOP "$victim"
if grep -q "key set in" killed.3.err; then
  echo "killed: member 3 finished before it could be stopped; skipping the kill case" >&2
  kill -CONT "$victim"
else
  sleep 0.5
  kill -9 "$victim"
  { wait "$victim"; } 2>/dev/null || true
  expect_failure killed "member $(culprit_id 3 3) " 1 2
fi
echo "dkg CLI OK"
