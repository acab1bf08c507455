#!/usr/bin/env bash
# Builds the policy, runs the Go unit tests natively, then runs the shared fixtures
# through agenthost.
set -euo pipefail
cd "$(dirname "$0")"

./build.sh

# The unit tests (main_test.go) run on this machine, not in wasm; without cgo they need no
# C compiler. (The environment build.sh sets up is not exported here, so repeat it.)
export GOTOOLCHAIN=local GOWORK=off
if [[ -z ${GOCACHE:-} ]] && [[ $(go env GOCACHE) == off ]]; then
    export GOCACHE="${TMPDIR:-/tmp}/go-build-$(id -u)"
fi
CGO_ENABLED=0 go test ./...

"${AGENTHOST:-agenthost}" policy test protected-paths.wasm --fixtures ../fixtures
