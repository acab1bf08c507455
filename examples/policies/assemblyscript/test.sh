#!/usr/bin/env bash
# Builds the policy, runs the edge-case tests (the built module under Node's WASI), then
# runs the shared fixtures through agenthost.
set -euo pipefail
cd "$(dirname "$0")"

./build.sh
node --no-warnings --test tests/
"${AGENTHOST:-agenthost}" policy test protected-paths.wasm --fixtures ../fixtures
