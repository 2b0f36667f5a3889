#!/usr/bin/env bash
# Usage: compat/node/ensure-node.sh
#
# Makes `node` (20 or later) and `npm` available for the JavaScript client tests, installing
# them as root when missing: Debian's nodejs and npm, then Node 20 from the npm registry (the
# `node` package ships the binary) when Debian's is older. Quiet when nothing is missing.
set -euo pipefail

node_major() {
    node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}

if command -v npm >/dev/null 2>&1 && [ "$(node_major)" -ge 20 ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "the client tests need Node 20 or later with npm (found: $(node --version 2>/dev/null || echo none))" >&2
    exit 1
fi
if ! command -v npm >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
if [ "$(node_major)" -lt 20 ]; then
    npm install -g --no-audit --no-fund --loglevel=error node@20 >/dev/null
    hash -r
fi
[ "$(node_major)" -ge 20 ] || { echo "could not install Node 20" >&2; exit 1; }
