#!/bin/bash
# A leaf broker killed with SIGKILL: it shows as lost, requests to it fail
# with EHOSTUNREACH (including ones in flight), the rest keeps answering,
# and the instance still shuts down cleanly.
. "$(dirname "$0")/lib.sh"
export PATH="$FLUX_BUILD_DIR/t/tools:$PATH"
test_under_flux 4

host=$(hostname)
pid3=$(rpc -r 3 attr.get '{"name":"broker.pid"}' | sed 's/.*"value":"\([0-9]*\)".*/\1/')
ok "found rank 3's broker pid ($pid3)" kill -0 "$pid3"

# A request in flight through the doomed broker.
flux exec -r 3 -n sleep 37.125 >inflight.out 2>&1 &
inflight=$!
wait_until "in-flight process is running on rank 3" 10 pgrep -f 'sleep 37.125'

start=$SECONDS
kill -9 "$pid3"
wait_until "rank 3 shows as lost" 10 bash -c "flux overlay status | grep -q '3 $host: lost'"
ok "loss was detected within 5 seconds ($((SECONDS - start))s)" test $((SECONDS - start)) -le 5
output_is "overlay status shows the degraded path" "$(cat <<EOT
0 $host: degraded
├─ 1 $host: degraded
│  └─ 3 $host: lost
└─ 2 $host: full
EOT
)" flux overlay status
wait_until "the in-flight request failed instead of hanging" 10 bash -c "! kill -0 $inflight 2>/dev/null"
wait $inflight
ok "flux exec exited non-zero" test $? -ne 0
output_has "...saying the rank is unreachable" 'rank 3: rank 3 is unreachable' cat inflight.out
exit_code 1 "ping to rank 3 fails" flux ping -c 1 -r 3 broker
output_has "...with EHOSTUNREACH" 'unreachable|No route to host' flux ping -c 1 -r 3 broker
output_has "rpc to rank 3 gets errno 113" '^113: ' rpc -r 3 broker.info
for r in 0 1 2; do
    ok "rank $r still answers" flux ping -c 1 -r $r broker
done
ok "exec on the remaining ranks works" flux exec -r 0-2 true
output_has "the loss is logged" 'overlay: broker on rank 3 lost' flux dmesg
pkill -f 'sleep 37.125'
rm -f inflight.out
done_testing
