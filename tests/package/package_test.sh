#!/usr/bin/env bash
# The Debian package (`make package`, cmake/VeilPackaging.cmake) in a clean Debian 12 root:
#   1. debootstrap a minimal bookworm root (cached as a tarball between runs);
#   2. `apt-get install ./veil_*.deb` inside it (dependencies come from Debian's mirror), then
#      `veil version`, the veil user, the conffile, the dashboard, the man pages;
#   3. `systemd-analyze verify` accepts the unit (and refuses a broken copy: the check can fail),
#      and `systemd-analyze security` rates its exposure;
#   4. packaging/Dockerfile builds a node image on that root imported into a test dockerd, and
#      the image runs `veil version` as user veil.
# Needs root (debootstrap, chroot, dockerd) and Debian's mirror; skipped (77) without them.
#
# Usage: tests/package/package_test.sh BUILD_DIR
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="$(cd "${1:-$ROOT/build}" && pwd)"
VEIL="$BUILD/bin/veil"
CACHE="${VEIL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/veil}"
WORK=$(mktemp -d /var/tmp/veil-package.XXXXXX)
CLUSTER_WORK="$WORK"
source "$ROOT/scripts/lib/cluster.sh"

pass=0 failed=0
expect() {  # expect NAME EXIT-CODE
  if [[ $2 -eq 0 ]]; then pass=$((pass + 1)); echo "ok   $1"; else failed=$((failed + 1)); echo "FAIL $1"; fi
}
unmount_root() { for m in proc dev/pts dev; do umount "$WORK/root/$m" 2>/dev/null; done; }
cleanup() {
  unmount_root
  stop_cluster >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root (debootstrap, chroot)"; exit 77; }
command -v debootstrap >/dev/null || { echo "SKIP: debootstrap is not installed (scripts/setup.sh installs it)"; exit 77; }

echo "[package] cpack"
(cd "$BUILD" && cpack --config CPackConfig.cmake >"$WORK/cpack.log" 2>&1) || { tail -20 "$WORK/cpack.log"; exit 1; }
DEB=$(ls "$BUILD"/package/veil_*_amd64.deb | head -1)
expect "cpack made $(basename "$DEB") ($(du -h "$DEB" | cut -f1))" $([[ -s $DEB ]]; echo $?)

# 1. A clean Debian 12 root, debootstrapped once and kept as a tarball.
BASE_TAR="$CACHE/debian12-minbase.tar"
if [[ ! -s $BASE_TAR ]]; then
  echo "[package] debootstrap --variant=minbase bookworm (once; cached in $BASE_TAR)"
  mkdir -p "$CACHE" "$WORK/base"
  if ! debootstrap --variant=minbase bookworm "$WORK/base" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1; then
    tail -5 "$WORK/debootstrap.log"
    echo "SKIP: debootstrap could not reach Debian's mirror"; exit 77
  fi
  tar -C "$WORK/base" -cf "$BASE_TAR.tmp" . && mv "$BASE_TAR.tmp" "$BASE_TAR"
  rm -rf "$WORK/base"
fi
mkdir -p "$WORK/root"
tar -C "$WORK/root" -xf "$BASE_TAR"
cp /etc/resolv.conf "$WORK/root/etc/resolv.conf"
mount -t proc proc "$WORK/root/proc"
mount --bind /dev "$WORK/root/dev"
in_root() { chroot "$WORK/root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

# 2. Install as an operator would.
cp "$DEB" "$WORK/root/tmp/"
echo "[package] apt-get install ./$(basename "$DEB") in the clean root"
in_root sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends /tmp/$(basename "$DEB")" \
  >"$WORK/apt.log" 2>&1
rc=$?; [[ $rc -eq 0 ]] || tail -20 "$WORK/apt.log"
expect "apt-get installs the package and its dependencies in a clean Debian 12 root" $rc
out=$(in_root veil version 2>&1); rc=$?
expect "veil version runs there: $out" $([[ $rc -eq 0 && $out == "veil $("$VEIL" version | cut -d' ' -f2)"* ]]; echo $?)
expect "the postinst made the system user veil" $(in_root id -u veil >/dev/null 2>&1; echo $?)
expect "/var/lib/veil belongs to veil, mode 0750" $([[ $(in_root stat -c '%U %a' /var/lib/veil) == "veil 750" ]]; echo $?)
expect "/etc/veil/node.yaml is a conffile, readable by group veil only" \
  $(in_root dpkg-query --showformat='${Conffiles}' --show veil | grep -q /etc/veil/node.yaml && [[ $(in_root stat -c '%G %a' /etc/veil/node.yaml) == "veil 640" ]]; echo $?)
expect "the default config parses (veil config show as user veil)" \
  $(in_root su -s /bin/sh veil -c 'veil config show --config /etc/veil/node.yaml' >"$WORK/config.txt" 2>&1 && grep -Eq '^node.data_dir +/var/lib/veil +file' "$WORK/config.txt"; echo $?)
expect "the dashboard is installed where the node looks for it" $([[ -s $WORK/root/usr/share/veil/web/index.html ]]; echo $?)
pages=$(ls "$WORK/root/usr/share/man/man1" | grep -c '^veil.*\.1\.gz$')
expect "man pages installed ($pages)" $([[ $pages -gt 20 && -s $WORK/root/usr/share/man/man1/veil-node-run.1.gz ]]; echo $?)
expect "bash completion installed" $(grep -q 'complete -o default -F _veil veil' "$WORK/root/usr/share/bash-completion/completions/veil"; echo $?)

# 3. The unit, checked by systemd itself (inside the root, where /usr/bin/veil and the man page
# it documents exist).
in_root sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd man-db' >"$WORK/apt-systemd.log" 2>&1
out=$(in_root systemd-analyze verify /usr/lib/systemd/system/veil-node.service 2>&1); rc=$?
expect "systemd-analyze verify accepts veil-node.service${out:+: $out}" $rc
sed 's|^ExecStart=/usr/bin/veil|ExecStart=/usr/bin/veil-missing|; s|^ProtectSystem=strict|ProtectSystem=sometimes|' \
  "$WORK/root/usr/lib/systemd/system/veil-node.service" >"$WORK/root/etc/systemd/system/veil-broken.service"
in_root systemd-analyze verify /etc/systemd/system/veil-broken.service >/dev/null 2>&1; rc=$?
expect "systemd-analyze verify refuses a broken copy (the check can fail)" $([[ $rc -ne 0 ]]; echo $?)
exposure=$(in_root systemd-analyze security --offline=yes /usr/lib/systemd/system/veil-node.service 2>/dev/null | grep -o 'exposure level for veil-node.service: [0-9.]*' | awk '{print $NF}')
expect "systemd-analyze security: exposure ${exposure:-?} (at most 2.5)" $(awk -v e="${exposure:-10}" 'BEGIN{exit !(e <= 2.5)}'; echo $?)
unmount_root

# 4. The Dockerfile, on the clean root imported into a dockerd of our own.
reason=$(docker_unavailable_reason)
if [[ -n $reason ]]; then
  echo "skip the Dockerfile: $reason"
else
  start_docker_and_registry >/dev/null 2>&1 || { echo "FAIL cannot start dockerd"; exit 1; }
  docker=/usr/bin/docker; [[ -x $docker ]] || docker=docker
  dk() { $docker -H "unix://$VEIL_DOCKER_SOCKET" "$@"; }
  dk import "$BASE_TAR" veil-test/debian12:minbase >/dev/null
  # The build's RUN needs Debian's mirror for the dependencies: host networking, since this
  # dockerd leaves the firewall alone (no NAT for its bridge).
  cp "$ROOT/packaging/Dockerfile" "$WORK/Dockerfile"
  dk build --network host --build-arg BASE=veil-test/debian12:minbase -f "$WORK/Dockerfile" -t veil-test/node:pkg \
    "$(dirname "$DEB")" >"$WORK/docker-build.log" 2>&1
  rc=$?; [[ $rc -eq 0 ]] || tail -20 "$WORK/docker-build.log"
  expect "packaging/Dockerfile builds a node image from the package" $rc
  out=$(dk run --rm --network none veil-test/node:pkg version 2>&1); rc=$?
  expect "the image runs veil version: $out" $([[ $rc -eq 0 && $out == veil\ * ]]; echo $?)
  out=$(dk run --rm --network none --entrypoint id veil-test/node:pkg -un 2>&1)
  expect "the image runs as user veil, not root ($out)" $([[ $out == veil ]]; echo $?)
fi

echo "[package] $pass passed, $failed failed"
[[ $failed -eq 0 ]]
