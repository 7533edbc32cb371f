#!/usr/bin/env bash
# scripts/long-functions.py on a small tree built here: it passes functions of up to 100 lines and
# fails a planted one of 101 lines, naming it.
set -euo pipefail
check=$(cd "$(dirname "$0")/../.." && pwd)/scripts/long-functions.py
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/src/core"
# A function of n lines in clang-format's layout: signature, "{", n-3 statements, "}".
function_of() { # name lines
    printf 'int %s(int a)\n{\n' "$1"
    for ((i = 0; i < $2 - 4; i++)); do printf '    a += %d;\n' "$i"; done
    printf '    return a;\n}\n\n'
}
function_of short 10 > "$tree/src/core/ok.c"
function_of at_limit 100 >> "$tree/src/core/ok.c"
"$check" "$tree/src" > /dev/null || { echo "long-functions refused functions of 100 lines" >&2; exit 1; }

function_of too_long 101 > "$tree/src/core/long.c"
if out=$("$check" "$tree/src"); then
    echo "long-functions passed a function of 101 lines" >&2
    exit 1
fi
grep -q "^  101  .*src/core/long.c:1  too_long$" <<<"$out" ||
    { echo "long-functions said: $out" >&2; exit 1; }
echo "long-functions test: passes functions of up to 100 lines, fails one of 101"
