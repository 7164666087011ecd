#!/usr/bin/env bash
# Runs a command inside a private network namespace made here: loopback up, plus a veth pair with
# 10.77.0.x addresses, because libwebrtc ignores loopback interfaces. Nothing leaves the
# namespace. The real-stack tests and the benchmarks run this way.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${ROOMCAST_IN_NETNS:-}" ]; then
  flags=(-n)
  [ "$(id -u)" -ne 0 ] && flags=(-r -n)
  exec unshare "${flags[@]}" -- env ROOMCAST_IN_NETNS=1 bash "$0" "$@"
fi

ip link set lo up
ip link add rc0 type veth peer name rc1
ip addr add 10.77.0.1/24 dev rc0
ip addr add 10.77.0.2/24 dev rc1
ip link set rc0 up
ip link set rc1 up
# Chromium only gathers ICE candidates on the interface of the default route: give it one. The
# namespace has no link to the outside, so a packet for any other address goes nowhere.
ip route add default via 10.77.0.2 dev rc0

export ROOMCAST_TEST_HOST=10.77.0.1
exec "$@"
