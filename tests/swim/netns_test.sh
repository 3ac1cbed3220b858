#!/usr/bin/env bash
# Real-network SWIM test: 5 `veil swim member` processes, each in its own network namespace,
# joined over the libp2p binding through veth pairs on a bridge that lives in a sixth
# namespace. Nothing is done in the host's root namespace (no links, routes or firewall rules
# there); everything is removed by a trap, also on failure.
#
#   1. all 5 converge (every member's SIGUSR1 table shows 5 alive);
#   2. cutting member 5's link (ip link set down) makes the 4 others declare it dead within
#      the bound computed from formulas.h (`veil swim bounds`, printed);
#   3. restoring the link lets it rejoin: the others see it alive again at a higher incarnation
#      (it refuted its own death);
#   4. 10% packet loss on every link causes no false positive over 300 protocol periods (what
#      5 minutes are with lan's 1 s period; here the period is 200 ms, so 60 s). Loss is
#      `tc netem` when the kernel has sch_netem, else an equivalent `iptables -m statistic`
#      random drop inside each member's namespace (said loudly); skipped loudly if neither.
#
# Usage: netns_test.sh VEIL_BINARY. Exit 0 pass, 1 fail, 77 skip (ctest SKIP_RETURN_CODE).
set -u
VEIL=${1:?usage: netns_test.sh VEIL_BINARY}
SKIP=77
N=5
PERIOD_MS=${SWIM_NETNS_PERIOD_MS:-200}
TIMEOUT_MS=$((PERIOD_MS / 2))
GOSSIP_MS=$((PERIOD_MS / 4))
LOSS_PERIODS=${SWIM_NETNS_LOSS_PERIODS:-300}
TUNING=(--preset lan --probe-interval-ms "$PERIOD_MS" --probe-timeout-ms "$TIMEOUT_MS"
        --gossip-interval-ms "$GOSSIP_MS" --push-pull-interval-ms $((PERIOD_MS * 15))
        --reconnect-interval-ms $((PERIOD_MS * 5)))
# Extra member flags for experiments, e.g. SWIM_NETNS_FLAGS=--no-lifeguard.
read -r -a EXTRA <<<"${SWIM_NETNS_FLAGS:-}"
TUNING+=("${EXTRA[@]}")

say() { echo "netns_test: $*"; }
skip() { say "SKIPPED: $*"; exit $SKIP; }
failures=0
check() {  # check CONDITION_EXIT_STATUS MESSAGE
  if [ "$1" -eq 0 ]; then say "ok: $2"; else say "FAIL: $2"; failures=$((failures + 1)); fi
}
now_ms() { date +%s%3N; }

[ "$(id -u)" -eq 0 ] || skip "needs root to create network namespaces (running as uid $(id -u))"
command -v ip >/dev/null || skip "iproute2 'ip' not installed"
[ -x "$VEIL" ] || { say "FAIL: $VEIL is not executable"; exit 1; }

TAG="vsw$$$RANDOM"
BR="$TAG-br"
NS=()
for i in $(seq 1 $N); do NS+=("$TAG-m$i"); done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/veil-swim-netns.XXXXXX")
PIDS=()

cleanup() {
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  for ns in "${NS[@]}" "$BR"; do ip netns del "$ns" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if ! err=$(ip netns add "$BR" 2>&1); then
  skip "cannot create a network namespace: $err"
fi
ip -n "$BR" link add br0 type bridge || { say "FAIL: no bridge in $BR"; exit 1; }
ip -n "$BR" link set br0 up
ip -n "$BR" link set lo up
for i in $(seq 1 $N); do
  ns=${NS[$((i - 1))]}
  ip netns add "$ns" || { say "FAIL: ip netns add $ns"; exit 1; }
  # The pair is made inside the bridge namespace and one end moved: the root namespace never
  # sees either end.
  ip -n "$BR" link add "vp$i" type veth peer name eth0 netns "$ns" || { say "FAIL: veth for $ns"; exit 1; }
  ip -n "$BR" link set "vp$i" master br0
  ip -n "$BR" link set "vp$i" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "10.77.0.$i/24" dev eth0
  ip -n "$ns" link set eth0 up
done
say "namespaces: $BR (bridge) and ${NS[*]}; members at 10.77.0.1-$N"

BOUNDS=$("$VEIL" swim bounds --members $N "${TUNING[@]}") || { say "FAIL: veil swim bounds"; exit 1; }
BOUND_MS=$(echo "$BOUNDS" | sed -n 's/.*"detection_bound_ms":\([0-9]*\).*/\1/p')
say "formulas (n=$N): $BOUNDS"
say "detection bound: ${BOUND_MS} ms = (2(n-1)+1) periods + max suspicion timeout + 2 periods"

start_member() {  # start_member INDEX [JOIN_ADDR]
  local i=$1 ns=${NS[$(($1 - 1))]}
  local args=(swim member --listen "/ip4/10.77.0.$i/tcp/4001" --key "$WORK/key$i" "${TUNING[@]}")
  [ $# -ge 2 ] && args+=(--join "$2")
  ip netns exec "$ns" "$VEIL" "${args[@]}" >"$WORK/m$i.out" 2>"$WORK/m$i.err" &
  PIDS[$i]=$!
}
first_line() { head -n1 "$WORK/m$1.out" 2>/dev/null; }
peer_of() { first_line "$1" | sed 's#.*/p2p/##'; }

start_member 1
for _ in $(seq 100); do [ -n "$(first_line 1)" ] && break; sleep 0.05; done
SEED=$(first_line 1)
[ -n "$SEED" ] || { say "FAIL: member 1 printed no address"; cat "$WORK/m1.err"; exit 1; }
say "seed: $SEED"
for i in $(seq 2 $N); do start_member "$i" "$SEED"; done
for i in $(seq 2 $N); do
  for _ in $(seq 100); do [ -n "$(first_line "$i")" ] && break; sleep 0.05; done
done
PEER=()
for i in $(seq 1 $N); do PEER[$i]=$(peer_of "$i"); done

# Asks member i for its table (SIGUSR1) and prints the new "members" line.
table() {
  local i=$1 before
  before=$(grep -c '"event":"members"' "$WORK/m$i.out")
  kill -USR1 "${PIDS[$i]}"
  for _ in $(seq 100); do
    [ "$(grep -c '"event":"members"' "$WORK/m$i.out")" -gt "$before" ] && break
    sleep 0.02
  done
  grep '"event":"members"' "$WORK/m$i.out" | tail -n1
}
alive_count() { table "$1" | grep -o '"state":"alive"' | wc -l; }
# Waits up to 15 s until every member's table shows all N alive; returns 0 when they do.
wait_all_alive() {
  for _ in $(seq 150); do
    local ok=1 i
    for i in $(seq 1 $N); do [ "$(alive_count "$i")" -eq $N ] || { ok=0; break; }; done
    [ $ok -eq 1 ] && return 0
    sleep 0.1
  done
  return 1
}

# --- 1. convergence ------------------------------------------------------------------------
t0=$(now_ms)
wait_all_alive; converged=$?
check $converged "all $N members see $N alive after $(( $(now_ms) - t0 )) ms"
if [ $converged -ne 0 ]; then
  for i in $(seq 1 $N); do table "$i"; tail -n3 "$WORK/m$i.err"; done
  exit 1
fi

# --- 2. cut member 5's link --------------------------------------------------------------------
V=$N
count_events() {  # count_events MEMBER EVENT PEER
  grep "\"event\":\"$2\"" "$WORK/m$1.out" | grep -c "\"peer\":\"$3\""
}
declare -A dead_before
for i in $(seq 1 $((N - 1))); do dead_before[$i]=$(count_events "$i" dead "${PEER[$V]}"); done
cut_at=$(now_ms)
ip -n "$BR" link set "vp$V" down
say "cut: ip -n $BR link set vp$V down at $cut_at"
detected=()
for _ in $(seq $(( (BOUND_MS + 5000) / 50 ))); do
  all=1
  for i in $(seq 1 $((N - 1))); do
    if [ -z "${detected[$i]:-}" ]; then
      if [ "$(count_events "$i" dead "${PEER[$V]}")" -gt "${dead_before[$i]}" ]; then
        line=$(grep '"event":"dead"' "$WORK/m$i.out" | grep "\"peer\":\"${PEER[$V]}\"" | tail -n1)
        t=$(echo "$line" | sed -n 's/.*"time_ms":\([0-9]*\).*/\1/p')
        detected[$i]=$((t - cut_at))
      else
        all=0
      fi
    fi
  done
  [ $all -eq 1 ] && break
  sleep 0.05
done
worst=0
for i in $(seq 1 $((N - 1))); do
  d=${detected[$i]:-none}
  say "member $i declared member $V dead after ${d} ms"
  [ "$d" = none ] && worst=999999999 || { [ "$d" -gt "$worst" ] && worst=$d; }
done
[ "$worst" -le "$BOUND_MS" ]; check $? "every other member declared the cut member dead within the bound (worst ${worst} ms <= ${BOUND_MS} ms)"
DETECT_WORST=$worst

# --- 3. restore: rejoin and refute ---------------------------------------------------------------
dead_inc=$(grep '"event":"dead"' "$WORK/m1.out" | grep "\"peer\":\"${PEER[$V]}\"" | tail -n1 | sed -n 's/.*"incarnation":\([0-9]*\).*/\1/p')
dead_inc=${dead_inc:-0}
restore_at=$(now_ms)
ip -n "$BR" link set "vp$V" up
say "restore: ip -n $BR link set vp$V up (member $V was dead at incarnation $dead_inc)"
rejoined=1
for _ in $(seq 300); do
  ok=1
  for i in $(seq 1 $((N - 1))); do
    inc=$(table "$i" | grep -o "{\"addrs\":[^}]*\"incarnation\":[0-9]*,\"peer\":\"${PEER[$V]}\",\"state\":\"alive\"}" | sed -n 's/.*"incarnation":\([0-9]*\).*/\1/p')
    if [ -z "$inc" ] || [ "$inc" -le "$dead_inc" ]; then ok=0; break; fi
  done
  [ $ok -eq 1 ] && { rejoined=0; break; }
  sleep 0.1
done
REJOIN_MS=$(( $(now_ms) - restore_at ))
check $rejoined "member $V rejoined: alive again at an incarnation above $dead_inc in every other member's view after ${REJOIN_MS} ms"
self_inc=$(table "$V" | sed -n 's/.*"health":[0-9]*,"incarnation":\([0-9]*\).*/\1/p')
[ -n "$self_inc" ] && [ "$self_inc" -gt "$dead_inc" ]; check $? "member $V refuted: its own incarnation is now ${self_inc:-?}"
wait_all_alive; converged=$?
check $converged "all $N members see $N alive again"

# --- 4. 10% loss on every link, no false positive ---------------------------------------------------
LOSS_MODE=""
probe_ns=${NS[0]}
# Probe on a real link of this test (bridge side of member 1), then remove the qdisc again.
if ip netns exec "$BR" tc qdisc add dev vp1 root netem loss 10% 2>"$WORK/netem.err"; then
  ip netns exec "$BR" tc qdisc del dev vp1 root
  LOSS_MODE=netem
fi
if [ -z "$LOSS_MODE" ]; then
  say "WARNING: 'tc qdisc add ... netem' fails here ($(tr -d '\n' <"$WORK/netem.err")): the kernel lacks sch_netem"
  if command -v iptables >/dev/null &&
     ip netns exec "$probe_ns" iptables -A OUTPUT -m statistic --mode random --probability 0.1 -j DROP 2>/dev/null; then
    ip netns exec "$probe_ns" iptables -D OUTPUT -m statistic --mode random --probability 0.1 -j DROP
    LOSS_MODE=iptables
    say "WARNING: using the equivalent random drop instead: iptables -m statistic --probability 0.1 on each member's OUTPUT and INPUT (inside its namespace)"
  fi
fi
LOSS_FP=skipped
if [ -z "$LOSS_MODE" ]; then
  say "SKIPPED PART 4 (loss): neither sch_netem nor iptables' statistic match is available"
else
  for i in $(seq 1 $N); do
    ns=${NS[$((i - 1))]}
    if [ "$LOSS_MODE" = netem ]; then
      # Both ends of every link: each direction of each link loses 10%.
      ip netns exec "$ns" tc qdisc add dev eth0 root netem loss 10%
      ip netns exec "$BR" tc qdisc add dev "vp$i" root netem loss 10%
    else
      ip netns exec "$ns" iptables -A OUTPUT -o eth0 -m statistic --mode random --probability 0.1 -j DROP
      ip netns exec "$ns" iptables -A INPUT -i eth0 -m statistic --mode random --probability 0.1 -j DROP
    fi
  done
  declare -A dead0 suspect0
  for i in $(seq 1 $N); do
    dead0[$i]=$(grep -c '"event":"dead"' "$WORK/m$i.out")
    suspect0[$i]=$(grep -c '"event":"suspect"' "$WORK/m$i.out")
  done
  LOSS_S=$((LOSS_PERIODS * PERIOD_MS / 1000))
  say "loss ($LOSS_MODE, 10% per link direction) for $LOSS_PERIODS periods of ${PERIOD_MS} ms = ${LOSS_S} s"
  sleep "$LOSS_S"
  fp=0 sus=0
  for i in $(seq 1 $N); do
    fp=$((fp + $(grep -c '"event":"dead"' "$WORK/m$i.out") - dead0[$i]))
    sus=$((sus + $(grep -c '"event":"suspect"' "$WORK/m$i.out") - suspect0[$i]))
  done
  drops=""
  if [ "$LOSS_MODE" = iptables ]; then
    drops=$(ip netns exec "${NS[0]}" iptables -nvxL OUTPUT | awk '/statistic/ {print $1}')
    say "member 1 dropped $drops outgoing packets on purpose"
  fi
  LOSS_FP=$fp
  say "under loss: $sus suspect event(s) across the 5 members, $fp dead event(s)"
  [ "$fp" -eq 0 ]; check $? "no false positive under 10% loss over $LOSS_PERIODS periods (no dead event; $sus suspicions all refuted)"
  # Loss is still on: a suspicion may be in flight at any one instant (75 in a minute above),
  # so sample until an instant where every table shows everyone alive (no one was removed).
  wait_all_alive; check $? "all $N members still see $N alive at the end of the loss phase"
  for i in $(seq 1 $N); do
    ns=${NS[$((i - 1))]}
    if [ "$LOSS_MODE" = netem ]; then
      ip netns exec "$ns" tc qdisc del dev eth0 root
      ip netns exec "$BR" tc qdisc del dev "vp$i" root
    else
      ip netns exec "$ns" iptables -F
    fi
  done
fi

# --- graceful shutdown -------------------------------------------------------------------------------
kill -TERM "${PIDS[$N]}"
wait "${PIDS[$N]}"; rc=$?
check $rc "member $N exits 0 on SIGTERM (graceful leave)"
left=1
for _ in $(seq 50); do
  [ "$(count_events 1 left "${PEER[$N]}")" -gt 0 ] && { left=0; break; }
  sleep 0.1
done
check $left "member 1 saw member $N leave"
for i in $(seq 1 $((N - 1))); do kill -TERM "${PIDS[$i]}"; done
for i in $(seq 1 $((N - 1))); do wait "${PIDS[$i]}" || { say "FAIL: member $i exit status $?"; failures=$((failures + 1)); }; done
PIDS=()

say "RESULT n=$N period_ms=$PERIOD_MS bound_ms=$BOUND_MS detect_worst_ms=$DETECT_WORST rejoin_ms=$REJOIN_MS loss_mode=${LOSS_MODE:-none} loss_periods=$LOSS_PERIODS false_positives=$LOSS_FP"
if [ $failures -ne 0 ]; then
  say "$failures check(s) failed; member stderr tails:"
  for i in $(seq 1 $N); do echo "--- m$i"; tail -n5 "$WORK/m$i.err"; done
  exit 1
fi
say "PASS"
