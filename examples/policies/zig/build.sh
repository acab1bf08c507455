#!/usr/bin/env bash
# Builds protected-paths.wasm, a WASI command (wasm32-wasi core module), from src/main.zig.
set -euo pipefail
cd "$(dirname "$0")"
source ./find-zig.sh

"${zig[@]}" build-exe src/main.zig -target wasm32-wasi -O ReleaseSmall -fstrip \
    -femit-bin=protected-paths.wasm
echo "built protected-paths.wasm ($(wc -c <protected-paths.wasm) bytes)"
