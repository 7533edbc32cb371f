# bash completion for zeus and zeusd (installed as .../bash-completion/completions/zeus and
# zeusd). The words come from the commands' own --help when a word is completed, so completion
# knows every command and option the installed version has and never lags behind it.

# The subcommands (or actions) a --help text lists: indented lowercase words at a line start.
_zeus_words_from_help() {
    "$@" --help 2>/dev/null | sed -n 's/^  \([a-z][a-z0-9-]*\)\( [a-z][a-z-]*\)\{0,1\}  .*/\1/p'
}

# The --options a --help text mentions.
_zeus_options_from_help() {
    "$@" --help 2>/dev/null | grep -o -- '--[a-z][a-z0-9-]*' | sort -u
}

_zeus() {
    local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[0]}
    local -a path=("$cmd")
    local i
    # The command path typed so far: words before the current one that are not options.
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        -*) break ;;
        --) return 0 ;;
        *) [[ ${#path[@]} -lt 3 ]] && path+=("${COMP_WORDS[i]}") || break ;;
        esac
    done
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_zeus_options_from_help "${path[@]}")" -- "$cur")
        return 0
    fi
    local words
    words=$(_zeus_words_from_help "${path[@]}")
    if [[ -n $words && $i -eq $COMP_CWORD ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
        [[ ${#COMPREPLY[@]} -gt 0 ]] && return 0
    fi
    mapfile -t COMPREPLY < <(compgen -f -- "$cur") # file arguments (JOBFILE, --csv FILE, ...)
}
complete -F _zeus zeus zeusd
