#!/usr/bin/env bash
# A build dependency missing at configure time gets the exact apt-get line, not CMake's bare
# error (issue 24 item 8): no C compiler ($CC names none), and no pkg-config/cJSON (pkg-config
# hidden from CMake). Each configure stops at its check, in a temporary build folder.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
expect_hint() { # NAME WANTED-LINE: the configure in $tmp/NAME failed and printed the line
  local out=$1 want=$2
  grep -q -F -- "$want" "$out" || { echo "configure did not print '$want':" >&2; cat "$out" >&2; exit 1; }
}
if env CC=zeus-no-such-compiler cmake -S "$src" -B "$tmp/no-cc" >"$tmp/no-cc.log" 2>&1; then
  echo "configure passed without a C compiler" >&2; exit 1
fi
expect_hint "$tmp/no-cc.log" "zeus needs a C compiler to build (found no 'zeus-no-such-compiler')"
expect_hint "$tmp/no-cc.log" \
  "sudo apt-get install -y --no-install-recommends build-essential pkg-config libcjson-dev"
if cmake -S "$src" -B "$tmp/no-pkgconfig" -DCMAKE_DISABLE_FIND_PACKAGE_PkgConfig=ON \
    >"$tmp/no-pkgconfig.log" 2>&1; then
  echo "configure passed without pkg-config" >&2; exit 1
fi
expect_hint "$tmp/no-pkgconfig.log" "zeus needs pkg-config and cJSON's headers to build"
expect_hint "$tmp/no-pkgconfig.log" "sudo apt-get install -y --no-install-recommends pkg-config libcjson-dev"
echo "configure hints: no compiler and no pkg-config/cJSON name their apt-get lines"
