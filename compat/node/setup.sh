#!/usr/bin/env bash
# Usage: compat/node/setup.sh
#
# Installs the JavaScript clients pinned in compat/node/package-lock.json (authentik's
# TypeScript API client and openid-client) into compat/node/node_modules with `npm ci`, unless
# that exact lock file is already installed there. Needs Node 20 or later. Quiet on success.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
    echo "compat/node/setup.sh: the client tests need Node 20 or later (found: $(node --version 2>/dev/null || echo none)); .ci/run installs it" >&2
    exit 1
fi
stamp=node_modules/.plexid-installed
wanted=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    exit 0
fi
npm ci --no-audit --no-fund --loglevel=error >/dev/null
echo "$wanted" > "$stamp"
