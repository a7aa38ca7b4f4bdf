#!/usr/bin/env bash
# Make podman able to run the compose Slurm cluster and container workers on a Debian machine
# with no Docker Engine and no reachable image registry. Idempotent: a second run changes
# nothing and takes about a second. Called by `./dev setup`; safe to run by hand.
#
#   1. Debian packages: podman, podman-compose, runc, netavark/aardvark-dns, iptables, mmdebstrap.
#   2. /etc/containers/containers.conf: the three settings podman needs here (see below).
#   3. The base image docker.io/library/debian:12, bootstrapped with mmdebstrap from this
#      machine's own apt sources (nothing can be pulled), so `FROM debian:12` builds unchanged.
#
# Skipped entirely when a Docker Engine answers: `docker compose` is used there instead.
set -euo pipefail

# iptables: netavark sets up a compose network's bridge with it ("netavark: No such file or
# directory" when it is missing).
PACKAGES=(podman podman-compose runc netavark aardvark-dns iptables mmdebstrap uidmap slirp4netns
    fuse-overlayfs)
CONF=/etc/containers/containers.conf
BASE_IMAGE=docker.io/library/debian:12
MARKER="# chiltepin: podman settings"

say() { printf '\033[1m[podman]\033[0m %s\n' "$*" >&2; }

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"

if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    exit 0
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

# default_ulimits = []: the default nofile/nproc limits exceed what a sandboxed root may set
#   (crun/runc: setrlimit ... Operation not permitted).
# network_backend = netavark: with aardvark-dns, compose service names resolve (CNI: they don't).
# runtime = runc: crun refuses a hybrid cgroup v1/v2 layout.
if ! grep -qF "$MARKER" "$CONF" 2>/dev/null; then
    if [ -s "$CONF" ]; then
        say "$CONF exists without chiltepin's settings; add these by hand:"
        say '[containers] default_ulimits = []  [network] network_backend = "netavark"  [engine] runtime = "runc"'
        exit 1
    fi
    say "writing $CONF"
    $sudo mkdir -p "$(dirname "$CONF")"
    printf '%s\n[containers]\ndefault_ulimits = []\n\n[network]\nnetwork_backend = "netavark"\n\n[engine]\nruntime = "runc"\n' \
        "$MARKER" | $sudo tee "$CONF" >/dev/null
fi
if [ "$($sudo podman info --format '{{.Host.NetworkBackend}}')" != netavark ]; then
    say "switching podman to netavark (podman system reset)"
    $sudo podman system reset -f >/dev/null
fi

if ! $sudo podman image exists "$BASE_IMAGE"; then
    say "bootstrapping $BASE_IMAGE with mmdebstrap (about 30 s)"
    tmp=$(mktemp -d)
    trap '$sudo rm -rf "$tmp"' EXIT
    sources=/etc/apt/sources.list.d/debian.sources
    [ -s "$sources" ] || sources=/etc/apt/sources.list
    $sudo mmdebstrap --quiet --variant=minbase bookworm "$tmp/rootfs.tar" "$sources" </dev/null
    $sudo podman import "$tmp/rootfs.tar" "$BASE_IMAGE" >/dev/null
fi
