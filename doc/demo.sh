#!/bin/bash
# A short tour of a 4-broker instance: `make demo` runs this.
set -euo pipefail
BUILD=${1:-build}
BUILD=$(cd "$BUILD" && pwd)
export PATH="$BUILD/bin:$PATH"

tour=$(mktemp)
trap 'rm -f "$tour"' EXIT
cat >"$tour" <<'TOUR'
set -e
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
echo "Inside a 4-broker instance. FLUX_URI=$FLUX_URI"
step flux uptime
step flux overlay status
step flux resource list
step flux exec -r all -l sh -c 'echo "broker $(flux getattr rank) of $(flux getattr size) on $(flux getattr hostname)"'
step flux ping -c 3 -i 0.1 -r 3 broker
step flux module load -r 3 hello
step flux module list -r 3
step flux ping -c 1 3!hello
step flux module remove -r 3 hello
printf '\n\033[1m$ flux event sub -c 2 demo &   # then: flux event pub demo.hello ...\033[0m\n'
FLUX_EVENT_SUB_READY=ready flux event sub -c 2 demo 2>/tmp/demo-sub.$$ &
sub=$!
while ! grep -q ready /tmp/demo-sub.$$ 2>/dev/null; do sleep 0.05; done
flux event pub demo.hello '{"from":"the tour"}'
flux event pub demo.bye
wait $sub
rm -f /tmp/demo-sub.$$
step flux logger "the tour was here"
step sh -c 'flux dmesg | tail -4'
step flux lsattr -v
step flux run -N4 -n4 --label-io sh -c 'echo "task $FLUX_TASK_RANK of $FLUX_JOB_SIZE on rank $(flux getattr rank)"'
step sh -c 'echo "input line" | flux run cat'
step flux submit --cc=1-20 --quiet sleep 0.2
step flux submit --urgency=0 --job-name=held true
step flux jobs
step flux queue status
step sh -c 'flux cancel --all; flux queue drain; flux jobs -a --stats | head -6'
step flux alloc -N2 sh -c 'echo "a child instance: level $(flux getattr instance-level), $(flux resource info)"'
step sh -c 'id=$(flux alloc --bg -N2); flux proxy $id flux submit -N2 sleep 30 >/dev/null; flux jobs -R; flux pstree; flux cancel $id'
echo
echo "Tour complete; the instance shuts down when this script exits."
TOUR
echo "Starting a 4-broker test instance with: flux start --test-size=4"
time flux start --test-size=4 bash "$tour"
