#!/usr/bin/env bash
# Installs the Debian packages Zeus needs to build and test, if any is missing.
# Needs root for apt-get; without it, prints exactly what to install.
set -euo pipefail
# `install-deps.sh demo`: only what building libzeus and the zeus command (and so `make demo`)
# needs. Without an argument: everything `make test` needs (the list below).
demo_packages=(build-essential cmake pkg-config libcjson-dev)
packages=(build-essential cmake pkg-config libcjson-dev git libcmocka-dev clang-format clang libclang-rt-14-dev
  libmicrohttpd-dev nettle-dev
  librsvg2-dev # zeus monitor power --plot FILE.png (librsvg + cairo)
  libsqlite3-dev libpq-dev postgresql # zeus-bso and its tests (docs/bso.md)
  prometheus prometheus-pushgateway python3-prometheus-client # the exporter's tests
  python3-pydantic # the batch-size client's models (tests/bso runs it on the system Python)
  openmpi-bin libopenmpi-dev # examples/power_limit_mpi.c and its mpirun test (distributed training)
  iproute2 # ip netns: the two-host distributed-training test (tests/python/test_distributed.py)
  libcurl4 ca-certificates openssl # https:// in libzeus (libcurl, dlopen'ed; the system's CAs) and its test's certificate
  help2man # man pages made from the commands' --help (packaging/)
  systemd man-db # the install test: systemd-analyze verify on the units, man -l on the pages
  python3 python3-dev python3-venv) # python3-*: the Python face (make test-python)
if [ "${1:-all}" = demo ]; then
  packages=("${demo_packages[@]}")
elif [ "${1:-all}" != all ]; then
  echo "usage: install-deps.sh [demo|all]" >&2
  exit 2
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "zeus: missing Debian packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
# One progress line, apt's own output in a log shown only when it fails.
log=$(mktemp /tmp/zeus-install-deps.XXXXXX.log)
echo "zeus: installing ${#missing[@]} Debian packages: ${missing[*]} (log: $log)"
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
  >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "zeus: installing the packages failed (the whole log: $log)" >&2
  exit 1
fi
rm -f "$log"
