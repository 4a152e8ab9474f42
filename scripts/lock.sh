#!/usr/bin/env bash
# Refresh the locks: exact versions of every package `make book` and `make test` install (pyproject.toml's
# dependencies and its `test` extra, torch pinned per CPU kind in requirements/torch.in), one file per CPU kind,
# for Python 3.11 on Linux; then environment.yml, the conda route, from the same versions.
# Needs uv (`pip install uv`); resolving reads package metadata only, it downloads no torch build.
# Run it after changing a dependency, then `make test` (a test compares the installed versions with the lock).
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-uv}
PYTHON=${PYTHON:-python3}
export UV_CUSTOM_COMPILE_COMMAND="bash scripts/lock.sh"
for arch in x86_64 aarch64; do
  "$UV" pip compile --quiet pyproject.toml requirements/torch.in --extra test \
    --python-version 3.11 --python-platform "$arch-manylinux_2_28" -o "requirements/lock-$arch.txt"
done
"$PYTHON" -c "import sys; sys.path.insert(0, '.'); from fakeit_lib.builder.environment import conda_environment as c; print(c(), end='')" > environment.yml
echo "wrote requirements/lock-x86_64.txt, requirements/lock-aarch64.txt and environment.yml"
