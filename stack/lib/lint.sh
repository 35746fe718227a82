# shellcheck shell=bash
# lint.sh: ./build.sh lint [--root DIR]: the enforced style (docs/STYLE.md).
#
# Every C file must be what clang-format makes of it with its tree's .clang-format (the module:
# ngx_vote_module/.clang-format, nginx's style; everything else: the top-level .clang-format),
# and every shell script must pass shellcheck at severity warning (.shellcheckrc). Prints one
# line per file that drifted, naming it; exit 1 when any did. --root checks another checkout
# (t/style/ points it at copies with a deliberate drift).

# Directories that hold no sources of ours: hidden ones (.git, .build, .cache, .state, ...)
# and vendored trees.
LINT_PRUNE=(-name '.?*' -o -name node_modules -o -name vendor -o -name servroot)

# The C sources below $1, relative to it.
lint_c_files() {
    (cd "$1" && find . -mindepth 1 \( "${LINT_PRUNE[@]}" \) -prune -o -type f \( -name '*.c' -o -name '*.h' \) -print) \
        | sed 's|^\./||' | sort
}

# The shell scripts below $1, relative to it: *.sh, and files whose first line runs sh or bash.
lint_shell_files() {
    local f
    (cd "$1" && find . -mindepth 1 \( "${LINT_PRUNE[@]}" \) -prune -o -type f -print) | sed 's|^\./||' | sort |
        while IFS= read -r f; do
            case "$f" in
                *.sh) echo "$f" ;;
                *.c|*.h|*.md|*.json|*.yaml|*.yml|*.conf|*.lua|*.py|*.pm|*.go|*.sql|*.png|*.js|*.css|*.html) ;;
                *) head -n 1 "$1/$f" 2>/dev/null | grep -qE '^#!.*[/ ](ba)?sh( |$)' && echo "$f" ;;
            esac
        done
}

cmd_lint() {
    local root=$ROOT bad=0 f out files
    if [ "${1:-}" = --root ]; then root=$(cd "${2:?--root needs a directory}" && pwd) || return 1; fi
    command -v clang-format >/dev/null && command -v shellcheck >/dev/null \
        || die "lint needs clang-format and shellcheck (./build.sh setup installs them)"
    step "C formatting (clang-format --dry-run -Werror, each tree's .clang-format)"
    mapfile -t files < <(lint_c_files "$root")
    if [ ${#files[@]} -gt 0 ] && ! out=$(cd "$root" && clang-format --dry-run -Werror "${files[@]}" 2>&1); then
        bad=1
        # one line per file, from its first "file:line:col: error: ... [-Wclang-format-violations]"
        sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: .*clang-format-violations.*/\1/p' <<<"$out" | sort -u |
            while IFS= read -r f; do
                echo "lint: $f: not formatted as its .clang-format says (fix: clang-format -i $f)"
            done
        grep -q 'clang-format-violations' <<<"$out" || sed 's/^/lint: clang-format: /' <<<"$out"
    fi
    step "Shell scripts (shellcheck -S warning)"
    mapfile -t files < <(lint_shell_files "$root")
    if [ ${#files[@]} -gt 0 ]; then
        out=$(cd "$root" && shellcheck -x -S warning -f gcc "${files[@]}" 2>&1) || bad=1
        [ -n "$out" ] && sed 's/^/lint: /' <<<"$out"
    fi
    [ $bad = 0 ] && ok "C files and shell scripts follow docs/STYLE.md"
    return $bad
}
