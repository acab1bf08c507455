#!/usr/bin/env bash
# Builds protected-paths.wasm, a WASI command (wasm32-wasip1 core module), from main.c and
# json.c with clang and Debian's wasi-libc.
set -euo pipefail
cd "$(dirname "$0")"

clang="${CLANG:-clang}"
if ! command -v "$clang" >/dev/null || ! command -v wasm-ld >/dev/null; then
    echo "build.sh: needs clang and wasm-ld with wasi-libc; on Debian/Ubuntu:" >&2
    echo "  apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32" >&2
    exit 3 # the toolchain is missing
fi

# `wasm32-wasi` is clang 14's name for what newer clang calls `wasm32-wasip1` (and where
# Debian's wasi-libc puts its headers and libc.a); the output is the same kind of module.
"$clang" --target=wasm32-wasi -Os -Wall -Wextra -Wl,--strip-all \
    -o protected-paths.wasm main.c json.c || {
    echo "build.sh: the build failed; is wasi-libc installed (apt-get install -y wasi-libc" \
        "libclang-rt-14-dev-wasm32)?" >&2
    exit 1
}
echo "built protected-paths.wasm ($(wc -c <protected-paths.wasm) bytes)"
