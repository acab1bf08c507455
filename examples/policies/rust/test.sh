#!/usr/bin/env bash
# Unit tests natively, then the plugin against the shared fixtures through agenthost.
set -euo pipefail
cd "$(dirname "$0")"
cargo test --quiet
./build.sh
"${AGENTHOST:-agenthost}" policy test protected-paths.wasm --fixtures ../fixtures
