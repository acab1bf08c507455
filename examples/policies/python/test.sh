#!/usr/bin/env bash
# Builds the policy and runs it through agenthost against the shared fixtures.
set -euo pipefail
cd "$(dirname "$0")"

./build.sh
"${AGENTHOST:-agenthost}" policy test protected-paths.wasm --fixtures ../fixtures
