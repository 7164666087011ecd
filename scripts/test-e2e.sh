#!/usr/bin/env bash
# The end-to-end suite, in its own network namespace (scripts/netns.sh). Arguments go to vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash scripts/netns.sh npx vitest run --project e2e "$@"
