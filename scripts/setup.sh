#!/usr/bin/env bash
# Idempotent set-up of a fresh Debian 12 machine for Veil Stack:
#   1. system packages (apt), 2. npm packages (project-local, pinned by package-lock.json),
#   3. configure + build with CMake/Ninja.
# Each step is skipped when it has nothing to do, so running it twice costs seconds.
#
# Usage: scripts/setup.sh [--no-build] [--preset NAME]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PRESET="${VEIL_PRESET:-default}"
BUILD=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-build) BUILD=0 ;;
    --preset) PRESET="$2"; shift ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

# Every part's packages are listed in one place, so a later issue adds a line, not a step.
APT_PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git clang clang-format clang-tidy libclang-rt-14-dev
  # common
  libspdlog-dev libfmt-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # crypto, networking, storage
  libboost-dev libboost-system-dev libsodium-dev libssl-dev libsecp256k1-dev
  libsqlite3-dev protobuf-compiler libprotobuf-dev
  # runtime integration tests: a real dockerd, a local registry, an image without pulling
  docker.io docker-registry busybox-static iproute2
  # node dashboard integration test: a headless browser renders web/
  chromium
  iptables  # swim netns test: random packet loss where the kernel lacks sch_netem
  # `make package` and its test: dpkg-shlibdeps, a clean Debian 12 root to install into
  dpkg-dev debootstrap
)

install_apt() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    log "apt: all ${#APT_PACKAGES[@]} packages present"
    return
  fi
  log "apt: installing ${missing[*]}"
  local sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_npm() {
  [[ -f "$ROOT/package.json" ]] || return 0
  local stamp="$ROOT/node_modules/.veil-lock-stamp"
  if [[ -f "$stamp" ]] && cmp -s "$stamp" "$ROOT/package-lock.json"; then
    log "npm: node_modules matches package-lock.json"
    return
  fi
  log "npm: installing from package-lock.json"
  (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$ROOT/package-lock.json" "$stamp"
}

build() {
  log "build: cmake --preset $PRESET"
  (cd "$ROOT" && cmake --preset "$PRESET" >/dev/null && cmake --build --preset "$PRESET")
}

install_node() {
  # The machine image may ship its own Node (>= 20) with npm; only fall back to Debian's.
  if command -v node >/dev/null && command -v npm >/dev/null; then
    log "node: $(node --version), npm $(npm --version)"
    return
  fi
  APT_PACKAGES=(nodejs npm)
  install_apt
}

install_apt
install_node
install_npm
[[ $BUILD -eq 1 ]] && build
log "done"
