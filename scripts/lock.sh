#!/usr/bin/env bash
# Refresh the locks: exact versions of every package `make book` and `make test` install (pyproject.toml's
# dependencies and its `test` extra, torch pinned per CPU kind in requirements/torch.in), one file per CPU kind,
# for Python 3.11 on Linux; then environment.yml, the conda route, from the same versions.
# Needs uv (`pip install uv`); resolving reads package metadata only, it downloads no torch build.
# Run it after changing a dependency, then `make test` (a test compares the installed versions with the lock).
#
# `bash scripts/lock.sh cu12` writes requirements/lock-x86_64-cu12.txt instead, for GPUs whose NVIDIA driver is older
# than the locked CUDA 13 build needs (580): the same torch and torchvision versions in PyTorch's CUDA 12 build
# ($TORCH_BACKEND, default cu126: driver >= 525) from download.pytorch.org, which it must reach, and every other
# package at its lock-x86_64.txt version. Install it with `FAKEIT_TORCH_BUILD=cu12 make setup` (README: Older NVIDIA
# drivers); `make test` and `make book` keep installing lock-x86_64.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-uv}
PYTHON=${PYTHON:-python3}
if [ "${1:-}" = cu12 ]; then
  export UV_CUSTOM_COMPILE_COMMAND="bash scripts/lock.sh cu12"
  "$UV" pip compile --quiet pyproject.toml requirements/torch.in --extra test -c requirements/lock-x86_64.txt \
    --torch-backend "${TORCH_BACKEND:-cu126}" --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
    -o requirements/lock-x86_64-cu12.txt
  echo "wrote requirements/lock-x86_64-cu12.txt (torch's ${TORCH_BACKEND:-cu126} build)"
  exit 0
elif [ $# -gt 0 ]; then
  echo "usage: bash scripts/lock.sh [cu12]; got '$*'" >&2
  exit 2
fi
export UV_CUSTOM_COMPILE_COMMAND="bash scripts/lock.sh"
for arch in x86_64 aarch64; do
  "$UV" pip compile --quiet pyproject.toml requirements/torch.in --extra test \
    --python-version 3.11 --python-platform "$arch-manylinux_2_28" -o "requirements/lock-$arch.txt"
done
"$PYTHON" -c "import sys; sys.path.insert(0, '.'); from fakeit_lib.builder.environment import conda_environment as c; print(c(), end='')" > environment.yml
echo "wrote requirements/lock-x86_64.txt, requirements/lock-aarch64.txt and environment.yml"
