#!/bin/sh
# Whether text names one of this machine's folders: scripts/names-machine-path.sh DIR FILE...
# prints each line of FILE (as FILE:LINE: text) that names DIR as a whole path -- starting a word
# (after a space, quote, '=', '(', ':', ',' or '[') and ending one (a clone at /zeus is not named
# by /run/zeus, <data dir>/zeus, /zeusd or zeus@/zeus?host=...), in plain and in man-page
# spelling (help2man writes '-' as '\-') -- and exits 0 if any does, 1 if none does, as grep.
# Used by make-man.sh (pages made from --help) and test-install.sh (installed pages).
dir=$1
shift
DIR=$dir ROFF=$(printf '%s' "$dir" | sed 's/-/\\-/g') perl -ne '
  BEGIN { $d = quotemeta $ENV{DIR}; $r = quotemeta $ENV{ROFF}; $found = 0 }
  if (/(?:^|(?<=[\s"'"'"'=(:,\[]))(?:$r|$d)(?=$|[\s\/"'"'"'),:;\]])/) { print "$ARGV:$.: $_"; $found = 1 }
  close ARGV if eof;
  END { exit($found ? 0 : 1) }' "$@"
