# Sourced by scripts/demo.sh: the whole product — a three-operator cluster on loopback places a
# two-replica HTTP job on encrypted telemetry, survives a node's death, rolls a second version
# with a health check over it and reverts it, and anchors every deployment on chain (docs/node.md), on the real FHE parameters (VEIL_CLUSTER_PARAMS=test: the
# fast, INSECURE set).
step "Cluster: anvil, a dockerd with a local registry, veil cluster init --dkg (3 operators, 2-of-3 committee, keys from their DKG)"
(
  set -euo pipefail
  CLUSTER_WORK="$WORK/cluster-demo"
  mkdir -p "$CLUSTER_WORK"
  # shellcheck source=../lib/cluster.sh
  source "$ROOT/scripts/lib/cluster.sh"
  trap stop_cluster EXIT
  export VEIL_CLUSTER_PARAMS="${VEIL_CLUSTER_PARAMS:-default}"
  if [[ $VEIL_CLUSTER_PARAMS == test ]]; then
    echo "(FHE test parameters: INSECURE, fast; unset VEIL_CLUSTER_PARAMS for the real ones)"
  else
    echo "(FHE parameters: $VEIL_CLUSTER_PARAMS; the key generation and each node's server key take a minute on 2 cores)"
  fi
  start_anvil
  why=$(docker_unavailable_reason)
  if [[ -z $why ]]; then
    start_docker_and_registry
    write_job() { write_web_job "$1" web; }
  else
    # No container engine: the process driver runs the job's command on the host, and the
    # chain allows the busybox executable by its sha256.
    echo "Docker cannot run here ($why): using the process driver"
    export VEIL_RUNTIME_DRIVER=process
    busybox=$(command -v busybox || echo /bin/busybox)
    IMAGE_REPO=local/busybox IMAGE_DIGEST="sha256:$(sha256sum "$busybox" | cut -d' ' -f1)"
    mkdir -p "$CLUSTER_WORK/www" && echo "hello from a veil replica" >"$CLUSTER_WORK/www/index.html"
    write_job() {
      cat >"$1" <<YAML
name: web
image: $IMAGE_REPO:1@$IMAGE_DIGEST
replicas: 2
resources: {cpu: 10m, memory: 32Mi}
policy: spread
command: ["busybox", "httpd", "-f", "-p", "127.0.0.1:8080", "-h", "$CLUSTER_WORK/www"]
ports:
  - container: 8080
YAML
    }
  fi
  init_cluster --allow-image "$IMAGE_DIGEST"
  python3 -m json.tool "$CLUSTER_WORK/cluster.json"

  step "Cluster: three nodes start, find each other (SWIM over libp2p) and publish encrypted telemetry"
  for n in 1 2 3; do start_node "$n"; done
  for n in 1 2 3; do wait_for_api "$n"; done
  wait_for_members 1 3
  wait_for_telemetry 1 3
  veil_at 1 node ls

  step "Cluster: veil job run — k schedulers evaluate on ciphertexts, the committee decrypts only the decision"
  write_job "$CLUSTER_WORK/web.yaml"
  cat "$CLUSTER_WORK/web.yaml"
  veil_at 1 job run "$CLUSTER_WORK/web.yaml" --wait --timeout 600
  veil_at 1 job status web -o json >"$CLUSTER_WORK/web.json"
  for ep in $(python3 -c 'import json,sys; print(" ".join(p["endpoint"] for p in json.load(open(sys.argv[1]))["placement"]))' "$CLUSTER_WORK/web.json"); do
    echo "GET http://$ep/ -> $(curl -sf --max-time 5 "http://$ep/")"
  done

  step "Cluster: kill a node that runs a replica; SWIM declares it dead and the replica is rescheduled"
  victim=""
  holders=$(replica_nodes 1 web)
  for n in 2 3; do [[ " $holders " == *" $(node_field $n peer_id) "* ]] && victim=$n && break; done
  echo "killing node $victim ($(node_field "$victim" peer_id))"
  kill -KILL "$(node_pid "$victim")"
  start=$(date +%s)
  wait_for_job 1 web "$CLUSTER_WORK/after.json" \
    "sum(p['state'] == 'running' and p['node'] != '$(node_field "$victim" peer_id)' for p in d['placement']) == 2" ||
    echo "(not rescheduled within 300 s)"
  echo "rescheduled after $(($(date +%s) - start)) s"
  veil_at 1 job status web
  for ep in $(python3 -c 'import json,sys; print(" ".join(p["endpoint"] for p in json.load(open(sys.argv[1]))["placement"] if p["state"]=="running"))' "$CLUSTER_WORK/after.json"); do
    echo "GET http://$ep/ -> $(curl -sf --max-time 5 "http://$ep/")"
  done

  step "Cluster: a rolling update — version 2 adds an HTTP health check and replaces version 1 one replica at a time; then a revert"
  write_job "$CLUSTER_WORK/web-v2.yaml"
  cat >>"$CLUSTER_WORK/web-v2.yaml" <<'YAML'
health:
  http: {path: /, port: 8080}
  interval: 2s
  grace: 2s
update: {max_parallel: 1, min_healthy_time: 3s, healthy_deadline: 2m}
YAML
  tail -5 "$CLUSTER_WORK/web-v2.yaml"
  veil_at 1 job run "$CLUSTER_WORK/web-v2.yaml" --wait --timeout 600
  # --wait returns once the first new replica runs: the roll goes on, one replica at a time.
  wait_for_job 1 web "$CLUSTER_WORK/v2.json" "'rollout' not in d and d.get('version') == 2" ||
    echo "(the roll did not finish within 300 s)"
  python3 -c 'import json,sys; [print("  " + e["message"]) for e in json.load(open(sys.argv[1]))["events"] if e["message"].startswith("rolling")]' \
    "$CLUSTER_WORK/v2.json"
  veil_at 1 job status web
  veil_at 1 job revert web 1
  wait_for_job 1 web "$CLUSTER_WORK/v3.json" "sum(p['state'] == 'running' for p in d['placement']) == 2" ||
    echo "(the revert did not run 2 replicas within 300 s)"
  veil_at 1 job history web

  step "Cluster: audit every anchored deployment of the job against the chain"
  veil_at 1 audit web --from-node
  echo "dashboard: http://$(node_field 1 api)/#token=$(cat "$CLUSTER_WORK/cluster/node-1/data/api.token")"
)
