#!/usr/bin/env bash
# The full test suite: lint, typecheck, build, unit tests, then the end-to-end suite on the real
# stack (livekit-server, Mosquitto, ffmpeg, bridge and agent processes, rtc-node listener).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/provision.sh
npx eslint .
npx tsc -p tsconfig.json --noEmit
npx tsc -p tsconfig.json
npx vitest run --project unit
bash scripts/test-e2e.sh
