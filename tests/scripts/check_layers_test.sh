#!/usr/bin/env bash
# scripts/check-layers.py on small trees built here: it passes calls and includes that go down
# or stay on a floor, and fails a planted upward call, a planted upward include, a circle, a public
# header on no floor (and an include of it) and a folder of src/ on no floor.
set -euo pipefail
check=$(cd "$(dirname "$0")/../.." && pwd)/scripts/check-layers.py
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/src/core" "$tree/src/monitor" "$tree/obj"
build() { # compiles every .c of the tree into obj/, as CMake names objects
    rm -rf "$tree/obj" && mkdir -p "$tree/obj"
    for c in "$tree"/src/*/*.c; do
        rel=${c#"$tree"/}
        mkdir -p "$tree/obj/x.dir/$(dirname "$rel")"
        cc -c -I"$tree/src" -I"$tree/include" -o "$tree/obj/x.dir/$rel.o" "$c"
    done
}
# Builds the tree and expects the check to fail with a line matching $2 ($1 says what was planted).
expect_refused() {
    build
    if out=$("$check" --root "$tree" --build "$tree/obj" 2>&1); then
        echo "check-layers passed $1" >&2
        exit 1
    fi
    grep -q "$2" <<<"$out" || { echo "check-layers said, for $1: $out" >&2; exit 1; }
}
printf 'int core_add(int a, int b);\n' > "$tree/src/core/core.h"
printf '#include "core/core.h"\nint core_add(int a, int b) { return a + b; }\n' > "$tree/src/core/add.c"
printf '#include "core/core.h"\nint monitor_sum(int a) { return core_add(a, 1); }\n' > "$tree/src/monitor/sum.c"
build
"$check" --root "$tree" --build "$tree/obj" --quiet

# A planted upward call: core calls the monitor.
printf 'int monitor_sum(int a);\nint core_up(void) { return monitor_sum(2); }\n' > "$tree/src/core/up.c"
expect_refused "core calling the monitor" \
    'src/core/up.c (core) calls monitor_sum from src/monitor/sum.c (monitor): a lower floor uses a higher one'
rm "$tree/src/core/up.c"

# A planted upward include.
printf 'int monitor_sum(int a);\n' > "$tree/src/monitor/monitor.h"
printf '#include "monitor/monitor.h"\n' > "$tree/src/core/inc.c"
expect_refused "core including a monitor header" 'src/core/inc.c (core) includes monitor/monitor.h'
rm "$tree/src/core/inc.c"

# A circle of files on one floor: two files that call each other.
printf 'int ping(int n);\nint pong(int n) { return n ? ping(n - 1) : 0; }\n' > "$tree/src/monitor/pong.c"
printf 'int pong(int n);\nint ping(int n) { return n ? pong(n - 1) : 1; }\n' > "$tree/src/monitor/ping.c"
expect_refused "two files that call each other" \
    'a circle of files: src/monitor/ping.c \[calls pong\] -> src/monitor/pong.c \[calls ping\] -> src/monitor/ping.c'
rm "$tree/src/monitor/pong.c" "$tree/src/monitor/ping.c"

# A public header missing from HEADERS is refused (core's include of it could not be judged, and
# was once skipped unseen).
mkdir -p "$tree/include/zeus"
printf 'int planted(void);\n' > "$tree/include/zeus/planted.h"
printf '#include "zeus/planted.h"\n' > "$tree/src/core/inc.c"
expect_refused "an unmapped public header" \
    'include/zeus/planted.h is on no floor: add it to HEADERS in scripts/check-layers.py'
rm "$tree/include/zeus/planted.h" "$tree/src/core/inc.c"

# A mapped public header of a higher floor (zeus/carbon.h: the power-limit floor) included by core.
printf 'int carbon(void);\n' > "$tree/include/zeus/carbon.h"
printf '#include "zeus/carbon.h"\n' > "$tree/src/core/log.c"
expect_refused "core including zeus/carbon.h" \
    'src/core/log.c (core) includes zeus/carbon.h from include/zeus/carbon.h (power_limit)'
rm "$tree/include/zeus/carbon.h" "$tree/src/core/log.c"

# A folder of src/ missing from FLOORS.
mkdir -p "$tree/src/planted"
printf 'int planted(void) { return 0; }\n' > "$tree/src/planted/planted.c"
expect_refused "a folder on no floor" \
    'src/planted/planted.c is on no floor: add it to FLOORS in scripts/check-layers.py'
rm -r "$tree/src/planted"
build
"$check" --root "$tree" --build "$tree/obj" --quiet
echo "check-layers test: passes downward arrows, fails an upward call, an upward include, a circle," \
    "unmapped files"
