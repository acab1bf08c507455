#!/usr/bin/env bash
# Builds protected-paths.wasm: a typed agenthost component, from policy.js, with
# componentize-js (pinned in package.json).
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "build.sh: node and npm are missing: install Node.js >= 20 with npm" >&2
    exit 3 # the toolchain is missing
fi
if [ ! -d node_modules ]; then
    # npm ci installs exactly package-lock.json. Some npm versions refuse this lock file
    # because optional platform packages the registry does not serve are missing from it
    # (npm/cli#9846); npm install --no-save then installs the same locked versions.
    # (npm install reports any other failure.)
    if ! npm ci --no-audit --no-fund --prefer-offline >/dev/null 2>&1; then
        echo "build.sh: npm ci refused the lock file; installing it with npm install --no-save" >&2
        rm -rf node_modules
        npm install --no-save --no-audit --no-fund --prefer-offline
    fi
fi

# componentize-js reads one WIT directory: this policy's world (world.wit) with the
# agenthost:policy package as a dependency.
rm -rf build/wit
mkdir -p build/wit/deps/agenthost-policy
cp world.wit build/wit/
cp ../../../sdk/wit/*.wit build/wit/deps/agenthost-policy/

# --disable http fetch-event: agenthost offers no wasi:http, so the component must not
# import it (it would fail to link). No --aot: it fetches a compiler at build time.
node_modules/.bin/componentize-js policy.js \
    --wit build/wit --world-name protected-paths \
    --disable http fetch-event \
    -o protected-paths.wasm
