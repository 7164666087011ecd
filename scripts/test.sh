#!/usr/bin/env bash
# The full test suite: lint, typecheck, build, unit tests, then the end-to-end suite on the real
# stack (livekit-server, Mosquitto, ffmpeg, bridge and agent processes, rtc-node listener).
# Ends with one line: "tests: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
reports=test-artifacts/reports
rm -rf "$reports"; mkdir -p "$reports"

set -e
bash scripts/provision.sh --tests
npm run -s lint
npx tsc -p tsconfig.json --noEmit
npx tsc -p tsconfig.json
set +e

status=0
npx vitest run --project unit --reporter=default --reporter=json --outputFile="$reports/unit.json" || status=1
bash scripts/test-e2e.sh --reporter=default --reporter=json --outputFile="$reports/e2e.json" || status=1
node scripts/test-summary.mjs "$reports/unit.json" "$reports/e2e.json" || status=1
exit $status
