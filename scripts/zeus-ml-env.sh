#!/bin/sh
# Creates (or reuses) a virtual environment with the ORIGINAL Zeus (zeus-ml 0.8.2 from PyPI) and
# NVIDIA's Python binding, separate from ours (both packages are named zeus), and prints its
# python. Used by the differential test (tests/python/test_differential.py) and the benchmark;
# httpx and aiofiles are what the original's pipeline frequency client (zeus.optimizer.perseus)
# imports
# (tests/python/test_pipeline_frequency_server.py runs that client against our server).
#   scripts/zeus-ml-env.sh [BUILD_DIR]     -> BUILD_DIR/zeus-ml-venv (default build)
# ZEUS_ML_VERSION picks another release (the last zeus-ml, 0.11.0.post1, is the client of zeusd's
# older routes: tests/python/test_zeusd_old_routes.py) -> BUILD_DIR/zeus-ml-VERSION-venv.
set -eu
build=${1:-build}
version=${ZEUS_ML_VERSION:-0.8.2}
venv="$build/zeus-ml-venv"
[ "$version" = 0.8.2 ] || venv="$build/zeus-ml-$version-venv"
REQUIREMENTS="zeus-ml==$version
nvidia-ml-py"
if [ "$version" = 0.8.2 ]; then
    REQUIREMENTS="$REQUIREMENTS
httpx
aiofiles"
fi
stamp=$(printf '%s\n' "$REQUIREMENTS" | cksum | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.requirements" 2>/dev/null)" = "$stamp" ]; then
    echo "$venv/bin/python"
    exit 0
fi
mkdir -p "$build"
rm -rf "$venv"
"${PYTHON:-python3}" -m venv "$venv" >&2
printf '%s\n' "$REQUIREMENTS" > "$venv/requirements.txt"
"$venv/bin/python" -m pip install --quiet -r "$venv/requirements.txt" >&2
echo "$stamp" > "$venv/.requirements"
echo "$venv/bin/python"
