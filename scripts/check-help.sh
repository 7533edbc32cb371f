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
  # defaults as "(default X)", never zeusd's old "[X]": an option section's line (from an
  # "options:" line to the next blank one) that ends in a bracket
  brackets=$(printf '%s\n' "$out" | awk '/^([a-z]+ )*options:/ { o = 1; next } /^$/ { o = 0 }
    o && /\]$/' || true)
  [ -z "$brackets" ] || { echo "check-help: '$command --help': a default in brackets, not" \
    "'(default X)': $brackets"; failed=1; }
  # a commands section is one table: every name's text starts in one column, after two spaces,
  # and fits 80 columns
  columns=$(printf '%s\n' "$out" | awk '/^commands:/ { c = 1; next } /^$/ { c = 0 }
    c && /^  [a-z]/ { match($0, /^  [^ ]+( [a-z]+)?  +/); print RLENGTH; if (length($0) > 80)
      print "long" }' | sort -u)
  case $columns in
    *long* | *-1* | *"
"*) echo "check-help: '$command --help': the commands section is not one aligned table" \
      "within 80 columns"; failed=1 ;;
  esac
done <<TABLE
$table
TABLE
[ "$checked" -gt 0 ] || { echo "check-help: no command of scripts/make-man.sh found in $build"; exit 1; }
[ "$failed" -eq 0 ] && echo "check-help: $checked commands, one help style"
exit "$failed"
