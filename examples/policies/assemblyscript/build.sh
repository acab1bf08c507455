#!/usr/bin/env bash
# Builds protected-paths.wasm, a WASI command (a wasip1 core module exporting _start), with
# the AssemblyScript compiler and @assemblyscript/wasi-shim (see asconfig.json).
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
    echo "build.sh: needs Node.js >= 20 and npm >= 10 on PATH, for example from your" \
        "package manager (apt-get install -y nodejs npm) or nodejs.org" >&2
    exit 3 # the toolchain is missing
fi

# The compiler and libraries, at the exact versions of package-lock.json.
if [[ ! -d node_modules ]]; then
    npm ci --no-audit --no-fund --prefer-offline
fi

npx --no-install asc assembly/index.ts --target release
echo "built protected-paths.wasm ($(wc -c <protected-paths.wasm) bytes)"
