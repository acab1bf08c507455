#!/usr/bin/env bash
# Builds the policy, runs the Zig unit tests natively, then runs the shared fixtures
# through agenthost.
set -euo pipefail
cd "$(dirname "$0")"
source ./find-zig.sh

./build.sh
"${zig[@]}" test src/main.zig
"${AGENTHOST:-agenthost}" policy test protected-paths.wasm --fixtures ../fixtures
