# Integration test helpers (sourced by t*.t scripts).
#
# A test script calls `test_under_flux SIZE [flux-start options]` first: it
# re-runs the script inside a fresh instance of SIZE brokers, so the rest of
# the script talks to that instance through the flux command. Checks:
#   ok DESC CMD...              CMD succeeds
#   not_ok DESC CMD...          CMD fails (any non-zero exit)
#   exit_code N DESC CMD...     CMD exits with N
#   output_is DESC EXPECTED CMD...   CMD's stdout equals EXPECTED
#   output_has DESC REGEX CMD...     CMD's stdout+stderr matches REGEX (grep -E)
#   wait_until DESC SECONDS CMD...   CMD succeeds within SECONDS (polled on a short interval)
#   ok DESC wait_gone PATTERN        no process matches PATTERN within 20 seconds
# The script ends with `done_testing`, which prints "N passed, M failed".

set -u
: "${FLUX_BUILD_DIR:?FLUX_BUILD_DIR must point at the build tree}"
export PATH="$FLUX_BUILD_DIR/bin:$PATH"
export FLUX_F58_FORCE_ASCII=1
SRCDIR=$(cd "$(dirname "$0")" && pwd)
TEST_NAME=$(basename "$0" .t)
_pass=0
_fail=0
_n=0

test_under_flux() {
    local size=$1
    shift
    if [ -z "${FLUX_TEST_INSIDE:-}" ]; then
        FLUX_TEST_INSIDE=1 exec flux start --test-size="$size" "$@" -- bash "$0"
    fi
}

_t0=$SECONDS
_report() {
    local rc=$1 desc=$2
    local took=$((SECONDS - _t0))
    _t0=$SECONDS
    [ $took -ge 5 ] && desc="$desc [took ${took}s]"
    _n=$((_n + 1))
    if [ "$rc" -eq 0 ]; then
        _pass=$((_pass + 1))
        echo "ok $_n - $desc"
    else
        _fail=$((_fail + 1))
        echo "not ok $_n - $desc"
        if [ -s "$_out" ]; then sed 's/^/#   /' "$_out" | head -40; fi
    fi
}

_out=$(mktemp)
trap 'rm -f "$_out"' EXIT

ok() {
    local desc=$1
    shift
    "$@" >"$_out" 2>&1
    _report $? "$desc"
}

not_ok() {
    local desc=$1
    shift
    if "$@" >"$_out" 2>&1; then _report 1 "$desc (unexpected success)"; else _report 0 "$desc"; fi
}

exit_code() {
    local want=$1 desc=$2
    shift 2
    "$@" >"$_out" 2>&1
    local rc=$?
    if [ "$rc" -eq "$want" ]; then _report 0 "$desc"; else echo "# exit code $rc, wanted $want" >>"$_out"; _report 1 "$desc"; fi
}

output_is() {
    local desc=$1 want=$2
    shift 2
    local got
    got=$("$@" 2>"$_out")
    if [ "$got" == "$want" ]; then
        _report 0 "$desc"
    else
        { echo "--- wanted:"; echo "$want"; echo "--- got:"; echo "$got"; } >>"$_out"
        _report 1 "$desc"
    fi
}

output_has() {
    local desc=$1 re=$2
    shift 2
    "$@" >"$_out" 2>&1
    if grep -Eq -- "$re" "$_out"; then _report 0 "$desc"; else echo "# no match for /$re/" >>"$_out"; _report 1 "$desc"; fi
}

wait_until() {
    local desc=$1 secs=$2
    shift 2
    local deadline=$((SECONDS + secs))
    while ! "$@" >"$_out" 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            echo "# still failing after ${secs}s" >>"$_out"
            _report 1 "$desc"
            return 1
        fi
        sleep 0.05
    done
    _report 0 "$desc"
}

# wait_gone PATTERN: succeed once no process matches PATTERN (pgrep -f),
# within 20 seconds; list the survivors otherwise. For use under ok.
wait_gone() {
    local deadline=$((SECONDS + 20))
    while pgrep -f "$1" >/dev/null; do
        if [ $SECONDS -ge $deadline ]; then
            echo "# still running after 20s:"
            pgrep -af "$1"
            return 1
        fi
        sleep 0.05
    done
}

done_testing() {
    echo "$TEST_NAME: $_pass passed, $_fail failed"
    [ "$_fail" -eq 0 ]
}
