#!/usr/bin/env bash
# The main job (`make demo`): sets up the machine, builds, and walks through what Veil Stack
# can do end to end today. Later parts extend this walk-through into a local cluster.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/setup.sh
VEIL="$ROOT/build/bin/veil"
WORK="$(mktemp -d -t veil-demo.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

step() { printf '\n\033[1;32m==> %s\033[0m\n' "$*"; }

step "veil version"
"$VEIL" version

step "A node's configuration: file < environment, each value with its source"
cat > "$WORK/node.yaml" <<YAML
libp2p:
  listen: [/ip4/127.0.0.1/tcp/4101]
docker:
  socket: /run/docker.sock
YAML
echo "# $WORK/node.yaml"; cat "$WORK/node.yaml"
VEIL_DOCKER_SOCKET="$WORK/docker.sock" "$VEIL" --config "$WORK/node.yaml" config show

for part in scripts/demo.d/*.sh; do
  [[ -e "$part" ]] || continue
  # shellcheck source=/dev/null
  source "$part"
done

step "demo complete"
