#!/usr/bin/env bash
# Python step: .venv from the fully pinned requirements/lock.txt, then this project in editable
# mode. Uses uv (pinned, installed into the venv by pip) because it installs the ~3 GB stack in
# well under a minute; the result is the same set of packages pip would install from the lock.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
UV_VERSION=$(sed -n "s/^uv==\([0-9.]*\).*/\1/p" requirements/lock.txt)

find_python() {
  for candidate in "${PYTHON:-}" python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null && \
       "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}

if [ ! -x "$VENV/bin/python" ]; then
  python=$(find_python) || {
    echo "setup_venv: TFX 1.21 needs Python 3.11; none found (set PYTHON=/path/to/python3.11)" >&2
    exit 1
  }
  echo "setup_venv: creating $VENV with $($python --version)"
  "$python" -m venv "$VENV"
fi
if ! "$VENV/bin/uv" --version 2>/dev/null | grep -q " $UV_VERSION"; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
echo "setup_venv: installing requirements/lock.txt"
# sync removes whatever the lock does not list (the lock pins pip and uv themselves too).
# --compile-bytecode: uv writes no .pyc by default, and where PYTHONDONTWRITEBYTECODE is set (as on
# our CI machines) Python never caches them either, so every process would compile TensorFlow's
# sources again: `import tensorflow` went from 23 s to 9 s on a 2-core machine.
"$VENV/bin/uv" pip sync --quiet --compile-bytecode --python "$VENV/bin/python" requirements/lock.txt
"$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" --no-deps -e .
