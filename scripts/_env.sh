# Shared by scripts/run and scripts/test: make (or reuse) the virtual environment.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Carnation needs Python 3.11 or newer (found: $("$PYTHON" --version 2>&1))" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi
VENV_PY="$ROOT/.venv/bin/python"
stamp=".venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)-$1"
if [ ! -f "$stamp" ]; then
  echo "==> installing Carnation and its dependencies into .venv"
  "$VENV_PY" -m pip install --quiet --upgrade pip
  if [ "$1" = dev ]; then
    "$VENV_PY" -m pip install --quiet -e '.[dev]'
  else
    "$VENV_PY" -m pip install --quiet -e .
  fi
  rm -f .venv/.installed-*-"$1"
  touch "$stamp"
fi
export PATH="$ROOT/.venv/bin:$PATH"
