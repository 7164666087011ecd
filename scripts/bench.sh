#!/usr/bin/env bash
# `npm run bench`: builds, then measures the real stack in its own network namespace and writes
# docs/BENCHMARKS.md. Not part of `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/provision.sh >/dev/null
npx tsc -p tsconfig.json
exec bash scripts/netns.sh node dist/test/bench/bench.js "$@"
