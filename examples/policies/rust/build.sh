#!/usr/bin/env bash
# Builds protected-paths.wasm: a typed component (wasm32-wasip2) made with the Rust SDK.
# Exits 3 when the toolchain is missing.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v cargo >/dev/null; then
    echo "build.sh: cargo is not on PATH: install Rust with rustup (https://rustup.rs)" >&2
    exit 3
fi
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-wasip2; then
    echo "build.sh: the wasm32-wasip2 target is missing: rustup target add wasm32-wasip2" >&2
    exit 3
fi
cargo build --release --target wasm32-wasip2
cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/protected-paths.wasm" protected-paths.wasm
