#!/usr/bin/env bash
# Installs what is missing: the npm dependencies, and the real parts the end-to-end tests run: livekit-server (pinned,
# built with `go install`, cached in ~/go/bin), Mosquitto, ffmpeg, Chromium and Redis (Debian packages), and
# for the compose test a Docker engine, debootstrap and Docker Compose v2 (built from its Go module).
# Prints where each one is. Exits non-zero when a part cannot be had.
set -euo pipefail
cd "$(dirname "$0")/.."

LIVEKIT_VERSION="${LIVEKIT_VERSION:-v1.13.5}"
need_apt=()

command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
command -v unshare >/dev/null 2>&1 || need_apt+=(util-linux)
# `--tests`: also what only the test suite needs: Debian's Chromium for the listener page's test,
# and Redis for the multi-node test (two livekit-server nodes share one).
tests=false; [ "${1:-}" = "--tests" ] && tests=true
if $tests && [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then need_apt+=(chromium); fi
if $tests && ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then need_apt+=(redis-server); fi
# mosquitto_rr: the request/response test runs it as a user would.
if $tests && ! command -v mosquitto_rr >/dev/null 2>&1; then need_apt+=(mosquitto-clients); fi
# The compose test: a Docker engine (Debian's; the test starts its own daemon) and debootstrap,
# which makes the Debian root of the stand-ins for the images this machine cannot pull.
if $tests && ! command -v dockerd >/dev/null 2>&1; then need_apt+=(docker.io); fi
if $tests && ! command -v debootstrap >/dev/null 2>&1; then need_apt+=(debootstrap); fi

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "provision: installing ${need_apt[*]} with apt"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${need_apt[@]}"
fi

gobin="$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"
lk="${LIVEKIT_SERVER_BIN:-$gobin/server}"
if [ ! -x "$lk" ] || ! "$lk" --version 2>/dev/null | grep -q "version ${LIVEKIT_VERSION#v}\$"; then
  command -v go >/dev/null 2>&1 || { echo "provision: go is needed to build livekit-server" >&2; exit 1; }
  echo "provision: building livekit-server $LIVEKIT_VERSION with go install"
  GOBIN="$(dirname "$lk")" go install "github.com/livekit/livekit-server/cmd/server@$LIVEKIT_VERSION"
fi

# `--tests`: Docker Compose v2 (the CLI plugin), built from its Go module when the machine's docker
# has none (Debian's docker-compose package is the old 1.x).
COMPOSE_VERSION="${COMPOSE_VERSION:-v5.6.0}"
compose_plugin="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins/docker-compose"
if $tests && ! "$compose_plugin" version 2>/dev/null | grep -q "${COMPOSE_VERSION}"; then
  command -v go >/dev/null 2>&1 || { echo "provision: go is needed to build docker compose" >&2; exit 1; }
  echo "provision: building docker compose $COMPOSE_VERSION from its Go module"
  compose_src="$(go mod download -json "github.com/docker/compose/v5@$COMPOSE_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  mkdir -p "$(dirname "$compose_plugin")"
  (cd "$compose_src" && go build -trimpath -ldflags "-w -X github.com/docker/compose/v5/internal.Version=$COMPOSE_VERSION" -o "$compose_plugin" ./cmd) >&2
fi

# `--tests`: Home Assistant (pinned: a release that runs on Debian 12's Python 3.11), in a
# virtualenv: its discovery schemas for test/harness/haDiscovery.py, and Home Assistant itself for
# test/e2e/homeAssistant.test.ts, with the requirements of the integrations that test runs (mqtt
# and what it needs: http, file_upload), so that it starts without reaching for PyPI.
ha_python=".roomcast/havenv/bin/python"
if $tests && ! "$ha_python" -c 'import homeassistant, paho.mqtt, janus, aiohttp_cors, aiohttp_fast_url_dispatcher, aiohttp_zlib_ng' >/dev/null 2>&1; then
  echo "provision: installing Home Assistant 2024.1.6 into .roomcast/havenv (pip), for its discovery schemas and the e2e suite"
  [ -x "$ha_python" ] || python3 -m venv .roomcast/havenv >&2 || { echo "provision: python3 -m venv failed (Debian: apt install python3-venv)" >&2; exit 1; }
  .roomcast/havenv/bin/pip install -q --disable-pip-version-check "homeassistant==2024.1.6" "paho-mqtt==1.6.1" \
    "janus==1.0.0" "aiohttp_cors==0.7.0" "aiohttp-fast-url-dispatcher==0.3.0" "aiohttp-zlib-ng==0.1.3" >&2
fi

# The npm dependencies, on a fresh clone (or when package-lock.json changed since they were installed).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "provision: installing the npm dependencies (npm ci)"
  npm ci --no-audit --no-fund >&2
fi

echo "provision: livekit-server $LIVEKIT_VERSION at $lk"
echo "provision: mosquitto at $(command -v mosquitto || echo /usr/sbin/mosquitto)"
echo "provision: ffmpeg at $(command -v ffmpeg)"
if $tests; then echo "provision: docker engine $(dockerd --version | cut -d' ' -f3 | tr -d ,), compose $("$compose_plugin" version --short)"; fi
if $tests; then echo "provision: chromium at ${CHROMIUM_PATH:-/usr/bin/chromium}"; echo "provision: redis-server at $(command -v redis-server || echo /usr/bin/redis-server)"; echo "provision: Home Assistant at $ha_python"; fi
