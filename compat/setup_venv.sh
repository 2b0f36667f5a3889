#!/usr/bin/env bash
# Usage: compat/setup_venv.sh DIR [REQUIREMENTS]
#
# Make DIR a virtualenv holding the packages pinned in REQUIREMENTS (default
# compat/requirements.txt: authentik's generated Python client). Idempotent: does nothing when
# DIR/bin/python exists and every pinned version is already installed there. Quiet on success.
set -euo pipefail

if [ "$#" -lt 1 ] || [ "$#" -gt 2 ]; then
    echo "usage: $0 DIR [REQUIREMENTS]" >&2
    exit 2
fi
venv_dir=$1
requirements="${2:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/requirements.txt}"

# Exit status 0 when every "name==version" line of the requirements file is installed.
pins_installed() {
    "$venv_dir/bin/python" - "$requirements" <<'PY' 2>/dev/null
import sys
from importlib.metadata import PackageNotFoundError, version

for line in open(sys.argv[1], encoding="utf-8"):
    requirement = line.split("#", 1)[0].strip()
    if not requirement:
        continue
    name, _, wanted = requirement.partition("==")
    try:
        if version(name.strip()) != wanted.strip():
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
PY
}

if [ -x "$venv_dir/bin/python" ] && pins_installed; then
    exit 0
fi
if [ ! -x "$venv_dir/bin/python" ]; then
    python3 -m venv "$venv_dir"
fi
"$venv_dir/bin/pip" install -q --disable-pip-version-check -r "$requirements"
