#!/usr/bin/env bash
# Fails if a face of libzeus includes an internal header. A face (the zeus command, the Python
# package, the daemon, the exporter, the batch-size optimizer server, the pipeline frequency
# server) may include only the
# public headers (zeus/*.h) and its own headers: anything from src/ outside the face would let
# it depend on internals that the shared library does not export (docs/abi.md).
# Usage: check-faces.sh [REPOSITORY_ROOT] (default: this script's repository).
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
faces=(src/cli python src/zeusd src/exporter src/bso src/pfo)
bad=0
for face in "${faces[@]}"; do
    [ -d "$face" ] || continue
    own=$(basename "$face") # e.g. "cli": the face's own headers are included as "cli/x.h"
    while IFS= read -r file; do
        while IFS= read -r line; do
            inc=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]+)[>"].*/\1/' <<<"$line")
            case "$inc" in
                zeus/*.h) [ -f "include/$inc" ] || [ "$inc" = zeus/version.h ] || {
                    echo "$file: includes $inc, which is not a public header"; bad=1; } ;;
                "$own"/*) [ -f "$face/${inc#"$own"/}" ] || {
                    echo "$file: includes $inc, which is not in $face"; bad=1; } ;;
                # The servers' shared helper (a static library of its own, not libzeus).
                httpd/*.h) [ -f "src/$inc" ] || {
                    echo "$file: includes $inc, which is not in src/httpd"; bad=1; } ;;
                *)
                    # A header next to the file is the face's own; one under src/ is internal;
                    # anything else is a system or third-party header.
                    if [ -f "$(dirname "$file")/$inc" ]; then :
                    elif [ -f "src/$inc" ] || [ -f "src/${inc#src/}" ] || [[ "$inc" == *src/* ]] || [[ "$inc" == ../* ]]; then
                        echo "$file: includes internal header $inc (faces use zeus/*.h only)"; bad=1
                    fi ;;
            esac
        done < <(grep -E '^[[:space:]]*#[[:space:]]*include' "$file" || true)
    done < <(find "$face" -type f \( -name '*.c' -o -name '*.h' -o -name '*.pyx' -o -name '*.cc' -o -name '*.cpp' \))
done
if [ "$bad" -ne 0 ]; then
    echo "check-faces: a face includes internal headers (see above)" >&2
    exit 1
fi
echo "check-faces: every face includes only public headers"
