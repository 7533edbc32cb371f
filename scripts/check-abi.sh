#!/usr/bin/env bash
# Checks the shared library's exported interface (docs/abi.md): every dynamic symbol it defines
# is a public zeus_ function under the version node (ZEUS_<abi>), no internal zeus__ helper or
# third-party symbol leaks, and every function the public headers declare is exported.
set -euo pipefail
lib=${1:-build/libzeus.so}
src=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$lib" ] || { echo "check-abi: $lib not found (build first)" >&2; exit 1; }
syms=$(nm -D --defined-only "$lib" | awk '{print $NF}')
bad=$(grep -Ev '^(ZEUS_[0-9.]+|zeus_[a-z0-9][a-z0-9_]*@@ZEUS_[0-9.]+)$' <<<"$syms" || true)
if [ -n "$bad" ]; then
    echo "check-abi: $lib exports symbols outside the versioned public API:" >&2
    echo "$bad" >&2
    exit 1
fi
nodes=$(grep -Eo '@@ZEUS_[0-9.]+' <<<"$syms" | sort -u | wc -l)
[ "$nodes" -eq 1 ] || { echo "check-abi: expected one version node, found $nodes" >&2; exit 1; }
exported=$(sed -E 's/@@.*//' <<<"$syms" | sort -u)
declared=$(cat "$src"/include/zeus/*.h | tr '\n' ' ' | grep -Eo 'ZEUS_API[^;{]*;' |
           grep -Eo '\bzeus_[a-z0-9_]+[[:space:]]*\(' | tr -d ' (' | sort -u)
missing=$(comm -23 <(echo "$declared") <(echo "$exported"))
if [ -n "$missing" ]; then
    echo "check-abi: declared in include/zeus but not exported by $lib:" >&2
    echo "$missing" >&2
    exit 1
fi
# The dependency promise (docs/architecture.md): libc, pthreads, libdl and cJSON (with libm, the
# loader, and the sanitizers' runtimes in a ZEUS_SANITIZE build); NVML, AMD SMI and libcurl
# (https://) are loaded with dlopen, never linked.
needed=$(readelf -d "$lib" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p')
extra=$(grep -Ev '^(libc|libm|libpthread|libdl|libcjson|libasan|libubsan|ld-linux[-a-z0-9_]*)\.so' \
    <<<"$needed" || true)
if [ -n "$extra" ]; then
    echo "check-abi: $lib links libraries outside libzeus's dependency promise (dlopen them):" >&2
    echo "$extra" >&2
    exit 1
fi
echo "check-abi: $(wc -l <<<"$exported") public symbols, all versioned; every declared function exported"
