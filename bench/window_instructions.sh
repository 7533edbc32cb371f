#!/usr/bin/env bash
# Instructions per begin+end window pair, counted by callgrind (valgrind), for one or more trees of
# this repository: a figure that a loaded machine does not blur, so a change can be compared with
# the commit before it (docs/measurement.md "Instructions per window pair").
#
#   bench/window_instructions.sh [ROOT BUILD]...      (default: this tree and its build/)
#   PAIRS=2000 bench/window_instructions.sh /work/before /work/before/build . build
#
# Each ROOT BUILD pair: a source tree and its CMake build folder (libzeus.so built there). The
# same program, bench/window_instructions.c (public API only), is compiled against each tree's
# headers and linked to its libzeus.so; all runs use the fake NVML of the first BUILD, so only
# libzeus differs. For 1 and 8 GPUs, with 0 and 16 other windows open, callgrind counts the
# instructions of PAIRS pairs after 100 warm-up pairs (--toggle-collect), and of the 2 x GPUS
# counter reads a pair makes (NVML's share, through the device layer); "net" is their difference.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pairs=${PAIRS:-2000}
root=$(cd "$here/.." && pwd)
[ $# -eq 0 ] && set -- "$root" "$root/build"
[ $(($# % 2)) -eq 0 ] || { echo "usage: $0 [ROOT BUILD]..." >&2; exit 2; }
command -v valgrind >/dev/null || { echo "window_instructions: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
fake=$(cd "$2" && pwd)/tests/fakes/nvml/libnvidia-ml.so.1
[ -f "$fake" ] || { echo "window_instructions: no fake NVML at $fake (build fake_nvml)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export ZEUS_DEVICE=nvml ZEUS_NVML_LIBRARY=$fake ZEUS_FAKE_NVML_CONFIG=$tmp/nvml.json
unset ZEUS_FAKE_NVML_STATE CUDA_VISIBLE_DEVICES

# Instructions (Ir) callgrind counted inside measured() of one run: program, then its arguments.
count() {
    valgrind --tool=callgrind --toggle-collect='measured*' --callgrind-out-file="$tmp/cg.out" \
        "$@" >/dev/null 2>"$tmp/valgrind.log" || { cat "$tmp/valgrind.log" >&2; exit 1; }
    awk '/^(summary|totals):/ { print $2; exit }' "$tmp/cg.out"
}

printf '# instructions per begin+end pair (callgrind; %d pairs after 100 warm-up pairs; fake NVML of %s)\n' \
    "$pairs" "$2"
printf '%-40s %4s %4s %12s %12s %12s\n' tree gpus open pair "NVML reads" net
n=0
while [ $# -gt 0 ]; do
    root=$(cd "$1" && pwd) build=$(cd "$2" && pwd)
    shift 2
    n=$((n + 1))
    prog=$tmp/window_instructions.$n
    cc -std=c11 -O2 -g -I"$root/include" -I"$build/include" "$here/window_instructions.c" \
        -o "$prog" -L"$build" -lzeus -Wl,-rpath,"$build"
    label="$(git -C "$root" log -1 --format=%h 2>/dev/null || echo '?') $root"
    for gpus in 1 8; do
        printf '{"gpus": [{"count": %d}]}\n' "$gpus" >"$tmp/nvml.json"
        reads=$(count "$prog" "$gpus" 0 "$pairs" reads)
        for open in 0 16; do
            ir=$(count "$prog" "$gpus" "$open" "$pairs")
            awk -v l="$label" -v g="$gpus" -v o="$open" -v ir="$ir" -v rd="$reads" -v p="$pairs" \
                'BEGIN { printf "%-40s %4d %4d %12.1f %12.1f %12.1f\n", l, g, o, ir / p, rd / p, (ir - rd) / p }'
        done
    done
done
