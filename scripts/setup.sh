#!/usr/bin/env bash
# Set up a fresh machine for fakeit: system packages (offline data), a .venv with pinned torch, the project.
# Called by `make book` and `make test`; safe to run again (does only what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

# 1. System packages: WordNet 3.0 and Fashion-MNIST for offline use, Chromium for the book's browser test.
APT_PKGS="wordnet-base wordnet-sense-index dataset-fashion-mnist chromium"
missing=""
for p in $APT_PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing system packages:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "note: system packages missing:$missing"
    echo "      install them (Debian/Ubuntu: sudo apt-get install$missing), or provide WordNet through nltk"
    echo "      (python -c \"import nltk; nltk.download('wordnet')\") and Fashion-MNIST via FAKEIT_FASHION_MNIST."
  fi
fi

# 2. The virtual environment, with torch pinned so pip never picks a multi-GB "latest" build.
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.fakeit-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  "$VENV/bin/python" -m pip install -q --upgrade pip
  case "$(uname -m)" in
    aarch64|arm64) TORCH="torch==2.9.1 torchvision==0.24.1" ;;
    *)             TORCH="torch==2.14.1 torchvision==0.29.1" ;;
  esac
  "$VENV/bin/python" -m pip install -q $TORCH
  "$VENV/bin/python" -m pip install -q -e ".[test]"
  touch "$stamp"
fi
echo "environment ready: $VENV"
