#!/usr/bin/env bash
# Installs the build into a temporary prefix and builds an example against it twice: with
# pkg-config and with CMake's find_package. Proves `cmake --install` gives a usable package.
set -euo pipefail
build=${1:-build}
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig:$prefix/lib/x86_64-linux-gnu/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
cc -std=c11 -Wall -Werror examples/monitor_window.c $(pkg-config --cflags --libs zeus) \
   -Wl,-rpath,"$prefix/lib" -o "$prefix/ex_pkgconfig"
ZEUS_DEVICE=sim "$prefix/ex_pkgconfig" | grep -q "on 4 GPU(s)"
mkdir -p "$prefix/cm"
cat > "$prefix/cm/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.22)
project(zeus_consumer C)
find_package(zeus REQUIRED)
add_executable(ex $(pwd)/examples/monitor_window.c)
target_link_libraries(ex PRIVATE zeus::zeus)
CM
cmake -S "$prefix/cm" -B "$prefix/cm/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$prefix/cm/build" >/dev/null
ZEUS_DEVICE=sim LD_LIBRARY_PATH="$prefix/lib" "$prefix/cm/build/ex" | grep -q "on 4 GPU(s)"
# The installed command finds the installed libzeus through its rpath ($ORIGIN/../lib...).
env -u LD_LIBRARY_PATH "$prefix/bin/zeus" --version | grep -q "^zeus $(sed -n 's/^project(zeus VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)$"
if readelf -d "$prefix/bin/zeus" | grep -q 'NEEDED.*libzeus'; then
    readelf -d "$prefix/bin/zeus" | grep -q "NEEDED.*\[$(readelf -d "$prefix"/lib*/libzeus.so | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')\]"
    shared_cli="linked against the installed libzeus"
else
    shared_cli="linked statically (ZEUS_CLI_SHARED=OFF)"
fi
# zeus-bso (when built) is installed in libexec/zeus with its zeus-run and zeus-history links.
if [ -e "$build/zeus-bso" ]; then
    "$prefix/libexec/zeus/zeus-run" --help | grep -q '^usage: zeus run'
    "$prefix/libexec/zeus/zeus-history" --help | grep -q '^usage: zeus history'
    "$prefix/libexec/zeus/zeus-bso" serve --help | grep -q '^usage: zeus bso serve'
fi
# zeus/version.h is installed and agrees with the library it came with.
cat > "$prefix/version_check.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <zeus/zeus.h>
int main(void)
{
    if (strcmp(ZEUS_VERSION_STRING, zeus_version()) != 0 || ZEUS_VERSION_NUMBER < 100)
        return 1;
    printf("%d.%d.%d\n", ZEUS_VERSION_MAJOR, ZEUS_VERSION_MINOR, ZEUS_VERSION_PATCH);
    return 0;
}
C
cc -std=c11 -Wall -Werror "$prefix/version_check.c" $(pkg-config --cflags --libs zeus) \
   -Wl,-rpath,"$prefix/lib" -o "$prefix/version_check"
"$prefix/version_check" >/dev/null
# zeus NAME finds zeus-NAME in PREFIX/libexec/zeus from PREFIX/bin/zeus, wherever PREFIX is.
if [ -x "$prefix/libexec/zeus/zeus-exporter" ]; then
  "$prefix/bin/zeus" exporter --help | grep -q -- "--listen HOST:PORT"
fi
# ... and the PNG rasterizer module, zeus-svg2png.so, there too.
if [ -f "$prefix/libexec/zeus/zeus-svg2png.so" ]; then
  ZEUS_DEVICE=sim "$prefix/bin/zeus" monitor power --duration 0.1 --plot "$prefix/p.png" >/dev/null
  head -c 8 "$prefix/p.png" | od -An -tx1 | grep -q '89 50 4e 47 0d 0a 1a 0a'
fi
# Operator packaging: the systemd units name this prefix's executables and pass
# systemd-analyze verify (which also finds their man pages); every man page renders; bash
# completion completes commands, actions and options from the installed commands' --help.
units=0
for unit in "$prefix"/lib/systemd/system/*.service; do
  exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")
  [ "${exe#"$prefix"/}" != "$exe" ] && [ -x "$exe" ] || { echo "$unit: ExecStart $exe is not in $prefix" >&2; exit 1; }
  MANPATH="$prefix/share/man" systemd-analyze verify "$unit"
  units=$((units + 1))
done
[ "$units" -eq 3 ] || { echo "expected 3 systemd units, found $units" >&2; exit 1; }
pages=0
for page in "$prefix"/share/man/man1/*.1 "$prefix"/share/man/man8/*.8; do
  out=$(MANWIDTH=80 man -l "$page" 2>&1)
  # (not a pipe into grep -q: under pipefail, the writer's SIGPIPE fails a long page)
  grep -q '^NAME' <<<"$out" || { echo "$page: does not render: $out" >&2; exit 1; }
  pages=$((pages + 1))
done
[ "$pages" -ge 12 ] || { echo "expected at least 12 man pages, found $pages" >&2; exit 1; }
# No page names the machine it was built on (help2man ran the build tree's commands): the
# source and build folders, in plain and in roff's spelling ('-' as '\-'); zeus simulate's page
# names this prefix's traces instead.
for dir in "$(pwd)" "$(cd "$build" && pwd)"; do
  if scripts/names-machine-path.sh "$dir" "$prefix"/share/man/man*/*; then
    echo "installed man pages (above) name the build machine's $dir" >&2; exit 1
  fi
done
if [ -f "$prefix/share/man/man1/zeus-simulate.1" ]; then
  # In the page's source (man would wrap or hyphenate a long prefix), roff's spelling of '-'.
  traces=$(printf '%s' "$prefix/share/zeus/nsdi23-traces" | sed 's/-/\\-/g')
  grep -q -F "come with zeus: \fI\,$traces" "$prefix/share/man/man1/zeus-simulate.1" ||
    { echo "zeus-simulate.1 does not name $prefix/share/zeus/nsdi23-traces" >&2; exit 1; }
fi
for page in zeus-pipeline-frequency-solve.1 zeus-pipeline-frequency-serve.1; do
  [ -f "$prefix/share/man/man1/$page" ] || [ ! -e "$build/zeus-pfo" ] ||
    { echo "no man page $page" >&2; exit 1; }
done
PATH="$prefix/bin:$PATH" bash -c '
  source "$1/share/bash-completion/completions/zeus"
  complete_line() { read -ra COMP_WORDS <<< "$1"; [[ $1 == *" " ]] && COMP_WORDS+=(""); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _zeus; echo "${COMPREPLY[*]}"; }
  [[ $(complete_line "zeus mon") == monitor ]]
  [[ $(complete_line "zeus monitor ") == "energy power" ]]
  [[ " $(complete_line "zeus monitor energy --j") " == *" --json "* ]]
  [[ $(complete_line "zeus simulate --trace-d") == --trace-dir ]]
  [[ $(complete_line "zeus power-limit ") == "get set reset recover" ]]
  [[ $(complete_line "zeus pipeline-frequency ") == "solve serve" ]]
' sh "$prefix"
# The install stands alone: moved to another prefix, with the clone's data/ and the build tree
# hidden (a private mount namespace; CI runs as root), zeus simulate reads the traces of its own
# prefix and --help names them.
moved=$(mktemp -d)
trap 'rm -rf "$prefix" "$moved"' EXIT
cp -a "$prefix/." "$moved/"
unshare --mount --propagation private sh -euc '
  mount -t tmpfs none "$1"; mount -t tmpfs none "$2"
  "$3/bin/zeus" simulate single --help | grep -q "come with zeus: $3/bin/../share/zeus/nsdi23-traces"
  "$3/bin/zeus" simulate single --num-recurrence 3 --csv - 2>/dev/null | grep -q "^"
' sh "$(pwd)/data" "$(cd "$build" && pwd)" "$moved"
echo "install test: pkg-config and find_package consumers built and ran; zeus/version.h matches;" \
     "the command ran from the prefix, $shared_cli; a moved install read its own traces;" \
     "$units systemd units verified, $pages man pages render, bash completion works"
