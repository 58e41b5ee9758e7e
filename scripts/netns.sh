#!/usr/bin/env bash
# Runs a command inside a fresh, private network namespace made for the test run:
# loopback plus a veth pair on private test addresses (10.99.0.1/24 – 10.99.0.2/24) and a
# default route, which is what Chromium needs to gather WebRTC candidates (it never uses
# 127.0.0.1). Nothing inside can reach the machine's real interfaces or the outside world;
# the namespace and its links vanish when the command ends.
#   scripts/netns.sh <command> [args…]
set -euo pipefail
if [ "$(id -u)" != "0" ]; then
  echo "netns.sh: needs root (unshare -n); run the WebRTC suite without it on a laptop" >&2
  exit 2
fi
command -v unshare >/dev/null || { echo "netns.sh: unshare (util-linux) is missing" >&2; exit 2; }
command -v ip >/dev/null || { echo "netns.sh: ip (iproute2) is missing: apt-get install -y iproute2" >&2; exit 2; }
exec unshare -n -- bash -c '
  set -e
  ip link set lo up
  ip link add v0 type veth peer name v1
  ip addr add 10.99.0.1/24 dev v0
  ip addr add 10.99.0.2/24 dev v1
  ip link set v0 up
  ip link set v1 up
  ip route add default dev v0
  exec "$@"
' netns "$@"
