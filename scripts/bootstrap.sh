#!/usr/bin/env bash
# Create .venv and install Postroom with its test tools. Works on a fresh Debian/Ubuntu
# machine with python3 (3.11+): if the venv module is missing (Debian ships it separately
# as python3-venv), install it with apt-get when we may.
set -euo pipefail
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "Postroom needs Python 3.11 or newer; $PYTHON is $("$PYTHON" --version 2>&1)" >&2
  exit 1
fi
if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
  rm -rf "$VENV"
  version=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "python${version}-venv" || $SUDO apt-get install -y -qq python3-venv
  fi
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e '.[test]'
