#!/usr/bin/env bash
# Builds protected-paths.wasm: a typed agenthost component, from app.py, with
# componentize-py.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v componentize-py >/dev/null; then
    echo "build.sh: componentize-py is missing: pip install componentize-py==0.25.1 (in a venv on PATH)" >&2
    exit 3 # the toolchain is missing
fi

# Two WIT paths: the agenthost:policy package, and this policy's world (world.wit),
# which exports only the hooks it implements.
componentize-py -d ../../../sdk/wit -d world.wit -w local:protected-paths/protected-paths \
    componentize app -o protected-paths.wasm
