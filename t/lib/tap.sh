# shellcheck shell=bash
# tap.sh - a tiny TAP producer for bash integration tests (t/integration/*.t).
#
# Source it, then:
#   plan 5                      # or: plan no_plan  (then finish with done_testing)
#   ok "curl -fsS http://127.0.0.1:$EDGE_PORT/healthz" "edge is healthy"
#   is "$(redis-cli get x)" "3" "three votes counted"
#   isnt "$a" "$b" "ids differ"
#   like "$body" '"id":"[0-9A-Z]{26}"' "answer has a ULID"     # bash ERE
#   skip "kcat missing" 2       # records 2 skipped tests
#   diag "some context"         # to stderr, prefixed '# '
#   bail_out "stack not running"
#   done_testing                # prints the plan if none was given; exits non-zero on failure
# The exit status is the number of failed tests (capped at 254), 255 on a wrong count,
# so prove and CI see failures. `ok` runs its command with bash -c; its output goes to
# stderr as diagnostics only when it fails.

_TAP_N=0
_TAP_FAILED=0
_TAP_PLANNED=
_TAP_DONE=

plan() {
    if [ "$1" = "no_plan" ]; then return 0; fi
    if [ "$1" = "skip_all" ]; then echo "1..0 # SKIP ${2:-}"; _TAP_DONE=1; exit 0; fi
    _TAP_PLANNED=$1
    echo "1..$1"
}

diag() { local l; while IFS= read -r l; do echo "# $l" >&2; done <<< "$*"; }
note() { local l; while IFS= read -r l; do echo "# $l"; done <<< "$*"; }

_tap_result() {   # _tap_result STATUS DESC
    _TAP_N=$((_TAP_N + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $_TAP_N - $2"
    else
        echo "not ok $_TAP_N - $2"
        _TAP_FAILED=$((_TAP_FAILED + 1))
    fi
    return "$1"
}

pass() { _tap_result 0 "$1"; }
fail() { _tap_result 1 "$1"; }

# ok CMD DESC : passes when CMD (a string run by bash -c) exits 0
ok() {
    local cmd=$1 desc=${2:-$1} out rc
    out=$(bash -c "$cmd" 2>&1); rc=$?
    _tap_result "$([ $rc -eq 0 ] && echo 0 || echo 1)" "$desc" && return 0
    diag "  command: $cmd"
    diag "  exit status: $rc"
    [ -n "$out" ] && diag "  output: $out"
    return 1
}

# is GOT EXPECTED DESC
is() {
    if [ "$1" == "$2" ]; then _tap_result 0 "$3"; return 0; fi
    _tap_result 1 "$3"
    diag "         got: '$1'"
    diag "    expected: '$2'"
    return 1
}

isnt() {
    if [ "$1" != "$2" ]; then _tap_result 0 "$3"; return 0; fi
    _tap_result 1 "$3"
    diag "         got: '$1'"
    diag "    expected: anything else"
    return 1
}

# like GOT ERE DESC
like() {
    if [[ "$1" =~ $2 ]]; then _tap_result 0 "$3"; return 0; fi
    _tap_result 1 "$3"
    diag "                  '$1'"
    diag "    doesn't match '$2'"
    return 1
}

# skip WHY [COUNT]
skip() {
    local why=$1 n=${2:-1} i
    for ((i = 0; i < n; i++)); do
        _TAP_N=$((_TAP_N + 1))
        echo "ok $_TAP_N # skip $why"
    done
}

bail_out() { echo "Bail out!  $*"; _TAP_DONE=1; exit 255; }

done_testing() {
    _TAP_DONE=1
    if [ -z "$_TAP_PLANNED" ]; then
        echo "1..$_TAP_N"
    elif [ "$_TAP_PLANNED" -ne "$_TAP_N" ]; then
        diag "Looks like you planned $_TAP_PLANNED tests but ran $_TAP_N."
        exit 255
    fi
    if [ "$_TAP_FAILED" -gt 0 ]; then
        diag "Looks like you failed $_TAP_FAILED test(s) of $_TAP_N."
        exit $((_TAP_FAILED > 254 ? 254 : _TAP_FAILED))
    fi
    exit 0
}

# a script that forgets done_testing still reports failures through its exit status
_tap_on_exit() {
    local rc=$?
    [ -n "$_TAP_DONE" ] && return
    if [ -n "$_TAP_PLANNED" ] && [ "$_TAP_PLANNED" -ne "$_TAP_N" ]; then
        diag "Looks like you planned $_TAP_PLANNED tests but ran $_TAP_N."
        exit 255
    fi
    if [ "$_TAP_FAILED" -gt 0 ]; then exit $((_TAP_FAILED > 254 ? 254 : _TAP_FAILED)); fi
    exit $rc
}
trap _tap_on_exit EXIT
