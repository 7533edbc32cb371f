#!/bin/sh
# One help style everywhere (issue 24 item 12): every command of the man-page table in
# scripts/make-man.sh prints, for --help, a "usage:" line, an "options:" section (or "NAME
# options:"), one line per option, and an "example:" section, with status 0 on standard output.
# scripts/check-help.sh BUILD_DIR. A command not built here (no libmicrohttpd, ...) is left out,
# as make-man.sh leaves it out; at least the zeus command itself must be there.
set -u
build=$1
here=$(dirname "$0")
# The table: the lines between "pages='" and the closing quote, "page|section|command|text".
table=$(sed -n "/^pages='/,/'\$/p" "$here/make-man.sh" | sed "s/^pages='//; s/'\$//")
failed=0 checked=0
while IFS='|' read -r page section command description; do
  exe=${command%% *}
  [ -x "$build/$exe" ] || continue
  checked=$((checked + 1))
  # shellcheck disable=SC2086 # the command line is words
  out=$("$build"/$command --help 2>/dev/null) || {
    echo "check-help: '$command --help' failed"; failed=1; continue; }
  for section_re in '^usage: ' '^\([a-z]* \)*options:' '^example:'; do
    printf '%s\n' "$out" | grep -q "$section_re" ||
      { echo "check-help: '$command --help' has no ${section_re#^} section"; failed=1; }
  done
  # every option line of the options sections says what the option does (text after it)
  bare=$(printf '%s\n' "$out" | grep -E '^  -[-a-z]' | grep -Ev '^  -[^ ]*( [^ ]+)*  +[^ ]' ||
    true)
  [ -z "$bare" ] || { echo "check-help: '$command --help': option without a description: $bare"
    failed=1; }
done <<TABLE
$table
TABLE
[ "$checked" -gt 0 ] || { echo "check-help: no command of scripts/make-man.sh found in $build"; exit 1; }
[ "$failed" -eq 0 ] && echo "check-help: $checked commands, one help style"
exit "$failed"
