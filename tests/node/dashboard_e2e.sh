#!/usr/bin/env bash
# The dashboard (web/) against a real cluster: anvil, a dockerd of our own with a local registry
# and three `veil node run` on loopback (scripts/lib/cluster.sh; node 3 tampers with its
# decisions, so the page has a lying scheduler to name). Headless Chromium, driven over the
# DevTools protocol by dashboard_e2e.mjs (Node's own WebSocket, no npm package):
#   1. a spec with an error is pasted into the submit form: the error is shown at its line;
#   2. the job's YAML is uploaded through the form's file input and submitted: the page follows
#      the job until it runs and is anchored;
#   3. the job's page shows the round timeline with every step's time, the schedulers (the liar
#      named), the replicas with their endpoints, the anchor, and a replica's log line (the
#      driver requests the replica's endpoint, httpd -v logs it, the page polls the logs);
#   4. the cluster graph, the metrics charts and the audit view render;
#   5. a changed spec submitted through the form runs as version 2; its page's versions table
#      reverts to version 1, whose spec runs again as version 3;
#   6. the stop button stops the job.
# Screenshots of each view go to $VEIL_DASHBOARD_SCREENSHOTS (default: a scratch directory,
# removed on success); docs/img/ holds the committed ones (README.md shows them), taken with
# VEIL_DASHBOARD_LINGER=120 so that the charts have two minutes of samples.
# Usage: dashboard_e2e.sh PATH_TO_VEIL. Exits 77 (skipped) without Docker or Chromium, unless
# VEIL_REQUIRE_DOCKER=1, where that is a failure.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VEIL="$(realpath "$1")" CLUSTER_WORK="$(mktemp -d -t veil-dashboard-e2e.XXXXXX)"
# shellcheck source=../../scripts/lib/cluster.sh
source "$ROOT/scripts/lib/cluster.sh"
trap cluster_finish EXIT
pass() { echo "dashboard_e2e: ok: $*"; }
fail() { echo "dashboard_e2e: FAIL: $*" >&2; exit 1; }

skip_because() {
  [[ ${VEIL_REQUIRE_DOCKER:-0} == 1 ]] && fail "required here but: $1"
  echo "dashboard_e2e: SKIP: $1"; exit 77
}
why=$(docker_unavailable_reason)
[[ -z $why ]] || skip_because "$why"
CHROMIUM=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[[ -n $CHROMIUM ]] || skip_because "chromium is not installed (scripts/setup.sh installs it)"
node --experimental-websocket -e 'if (typeof WebSocket !== "function") process.exit(1)' 2>/dev/null ||
  skip_because "node >= 20.10 with --experimental-websocket is needed to drive Chromium"

SHOTS="${VEIL_DASHBOARD_SCREENSHOTS:-$CLUSTER_WORK/screenshots}"
mkdir -p "$SHOTS"
SHOTS="$(realpath "$SHOTS")"

start_anvil
start_docker_and_registry
init_cluster --allow-image "$IMAGE_DIGEST"
for n in 1 2 3; do
  extra=()
  [[ $n == 3 ]] && extra=(VEIL_DEBUG_TAMPER_DECISIONS=true)
  start_node "$n" "${extra[@]}"
done
for n in 1 2 3; do wait_for_api "$n" || fail "node $n API did not come up"; done
wait_for_members 1 3 || fail "node 1 does not see 3 alive members"
wait_for_telemetry 1 3 || fail "node 1 did not receive telemetry from 3 members"
pass "three nodes up and joined; node 1's dashboard at http://$(node_field 1 api)/"

write_web_job "$CLUSTER_WORK/web.yaml" web 2
# The same spec with an error on line 3 (a count that is not a number).
sed 's/^replicas: .*/replicas: two/' "$CLUSTER_WORK/web.yaml" >"$CLUSTER_WORK/bad.yaml"
grep -qn '^replicas: two' "$CLUSTER_WORK/bad.yaml" || fail "could not write the spec with an error"

TOKEN=$(cat "$CLUSTER_WORK/cluster/node-1/data/api.token")
# VEIL_DASHBOARD_HOLD=1: keep the cluster up for a person to look at, instead of driving it.
if [[ ${VEIL_DASHBOARD_HOLD:-0} == 1 ]]; then
  echo "dashboard_e2e: holding: http://$(node_field 1 api)/#token=$TOKEN (spec: $CLUSTER_WORK/web.yaml)"
  while sleep 3600; do :; done
fi

node --experimental-websocket --no-warnings "$ROOT/tests/node/dashboard_e2e.mjs" \
  --chromium "$CHROMIUM" --url "http://$(node_field 1 api)/#token=$TOKEN" \
  --bad-spec "$CLUSTER_WORK/bad.yaml" --spec "$CLUSTER_WORK/web.yaml" \
  --liar "$(node_field 3 peer_id)" --screenshots "$SHOTS" --profile "$CLUSTER_WORK/chromium" \
  --linger "${VEIL_DASHBOARD_LINGER:-0}" \
  >"$CLUSTER_WORK/e2e.json" 2>"$CLUSTER_WORK/e2e.log" ||
  { cat "$CLUSTER_WORK/e2e.log" >&2; fail "the browser run failed"; }
cat "$CLUSTER_WORK/e2e.log"
python3 - "$CLUSTER_WORK/e2e.json" <<'PY' || fail "the browser run's result: $(cat "$CLUSTER_WORK/e2e.json")"
import json, sys
r = json.load(open(sys.argv[1]))
print("dashboard_e2e: inline error:", r["inline_error"])
print("dashboard_e2e: timeline:", "; ".join(f'{s["step"]} {s["took"]}' for s in r["timeline"]))
print("dashboard_e2e: log line:", r["log_line"])
steps = [s["step"] for s in r["timeline"]]
assert steps == ["submitted", "schedulers", "agreed", "committee", "placed", "running", "anchored"], steps
assert all(s["done"] for s in r["timeline"]), "a step of the timeline is not done"
assert r["inline_error"]["line"] == "3", r["inline_error"]
assert "response:200" in r["log_line"], r["log_line"]
assert r["reverted"] == "3", r["reverted"]
assert r["stopped"] == "stopped", r["stopped"]
PY
# Each view left a screenshot.
for view in submit-error job cluster metrics audit overview; do
  [[ -s $SHOTS/dashboard-$view.png ]] || fail "no screenshot of the $view view"
done
pass "form submission, inline error, timeline, logs, cluster, metrics, audit, a second version and a revert, and stop; screenshots in $SHOTS"
