#!/bin/sh
# scripts/names-machine-path.sh finds a folder named as a whole path, in plain and in man-page
# spelling, and nothing that only contains its name: a clone at /zeus made every man page fail the
# build (their text says /run/zeus, <data dir>/zeus, zeus@/zeus?host=...).
set -eu
check=$(cd "$(dirname "$0")/../.." && pwd)/scripts/names-machine-path.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
names() { printf '%s\n' "$2" > "$tmp/page"; "$check" "$1" "$tmp/page" >/dev/null; }
for text in 'the traces: /zeus/data/nsdi23-traces' 'at /zeus' '--db=/zeus/x' '(/zeus)'; do
  names /zeus "$text" || { echo "not found in: $text" >&2; exit 1; }
done
names /work/wt-a 'come with zeus: /work/wt\-a/data' || { echo "roff spelling not found" >&2; exit 1; }
for text in 'state in /run/zeus' '<data dir>/zeus/history.db' 'postgresql://zeus@/zeus?host=/run' \
  'the /zeusd daemon' '/zeus-x/data'; do
  if names /zeus "$text"; then echo "wrongly found in: $text" >&2; exit 1; fi
done
echo "names-machine-path: ok"
