#!/usr/bin/env bash
# The end-to-end suite, in its own network namespace (scripts/netns.sh). Arguments go to vitest.
# The compose test's Docker builds install packages as any build does: scripts/package-proxy.mjs
# runs here, outside the namespace, on a Unix socket the namespace sees, and forwards to this
# machine's package sources only.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p test-artifacts
proxy_socket="$(mktemp -u "${TMPDIR:-/tmp}/roomcast-package-proxy-XXXXXX.sock")"
node scripts/package-proxy.mjs "$proxy_socket" 2>>test-artifacts/package-proxy.log &
proxy_pid=$!
trap 'kill "$proxy_pid" 2>/dev/null || true; rm -f "$proxy_socket"' EXIT
ROOMCAST_PACKAGE_PROXY="$proxy_socket" bash scripts/netns.sh npx vitest run --project e2e "$@"
