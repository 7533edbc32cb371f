#!/usr/bin/env bash
# scripts/check-faces.sh on small trees: it passes a face that includes only public and its own
# headers, and fails one that includes an internal header.
set -euo pipefail
check=$(cd "$(dirname "$0")/../.." && pwd)/scripts/check-faces.sh
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/include/zeus" "$tree/src/core" "$tree/src/cli" "$tree/src/zeusd"
touch "$tree/include/zeus/zeus.h" "$tree/src/core/internal.h" "$tree/src/cli/cli.h" "$tree/src/zeusd/proto.h"
printf '#include "cli/cli.h"\n#include "zeus/zeus.h"\n#include <stdio.h>\n' > "$tree/src/cli/main.c"
printf '#include "proto.h"\n#include <zeus/zeus.h>\n' > "$tree/src/zeusd/main.c"
"$check" "$tree" >/dev/null
printf '#include "core/internal.h"\n' > "$tree/src/zeusd/bad.c"
if out=$("$check" "$tree" 2>&1); then
    echo "check-faces passed a face that includes core/internal.h" >&2
    exit 1
fi
grep -q 'src/zeusd/bad.c: includes internal header core/internal.h' <<<"$out"
rm "$tree/src/zeusd/bad.c"
printf '#include "zeus/private.h"\n' > "$tree/src/cli/bad.c"
if "$check" "$tree" >/dev/null 2>&1; then
    echo "check-faces passed a face that includes a non-existent zeus/ header" >&2
    exit 1
fi
echo "check-faces test: passes clean faces, fails internal includes"
