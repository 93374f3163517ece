#!/bin/bash
# An 8-broker instance: requests reach every rank and back, events reach
# every rank in order, the tree has the configured shape.
. "$(dirname "$0")/lib.sh"
test_under_flux 8

output_is "size is 8" 8 flux getattr size
for r in 0 1 2 3 4 5 6 7; do
    output_has "ping reaches rank $r" "^$r!broker.ping pad=0 seq=0 time=[0-9.]+ ms \(.*!$r\)$" flux ping -c 1 -r $r broker
done
output_is "every rank answers getattr rank through exec" "$(seq 0 7)" \
    bash -c 'flux exec -r all flux getattr rank | sort -n'
output_is "every rank knows the size" "$(printf '8\n%.0s' 1 2 3 4 5 6 7 8 | head -c -1)" \
    bash -c 'flux exec -r all flux getattr size'
output_is "each rank sees its own local-uri" 8 \
    bash -c 'flux exec -r all sh -c "test \"\$FLUX_URI\" = \"\$(flux getattr local-uri)\" && echo y" | grep -c y'
output_has "request to rank 8 fails with EHOSTUNREACH" 'No route to host|not in this instance' \
    flux ping -c 1 -r 8 broker
exit_code 1 "...with exit code 1" flux ping -c 1 -r 8 broker
output_has "rank 7 routes via 3 and 1" '\(c[0-9]+!0!1!3!7\)' flux ping -c 1 -r 7 broker

# Overlay shape for fanout 2: 0 -> 1,2; 1 -> 3,4; 2 -> 5,6; 3 -> 7
output_is "overlay status is a full k-ary tree" "$(cat <<EOT
0 $(hostname): full
├─ 1 $(hostname): full
│  ├─ 3 $(hostname): full
│  │  └─ 7 $(hostname): full
│  └─ 4 $(hostname): full
└─ 2 $(hostname): full
   ├─ 5 $(hostname): full
   └─ 6 $(hostname): full
EOT
)" flux overlay status
output_is "overlay parentof 7" 3 flux overlay parentof 7
output_is "overlay status --summary" "0 $(hostname): full" flux overlay status --summary

# Events: a subscriber on every rank receives 20 events in publish order.
rm -f ev.*
for r in 0 1 2 3 4 5 6 7; do
    flux exec -r $r -n env FLUX_EVENT_SUB_READY=ready flux event sub -c 20 test.order >ev.$r 2>ev.$r.err &
done
wait_until "all 8 subscribers ready" 20 bash -c 'test $(cat ev.*.err 2>/dev/null | grep -c ready) -eq 8'
for i in $(seq 1 20); do flux event pub test.order.$i; done
wait
expected=$(for i in $(seq 1 20); do echo test.order.$i; done)
for r in 0 1 2 3 4 5 6 7; do
    output_is "rank $r got all events in order" "$expected" cat ev.$r
done
rm -f ev.*

# Events published from a leaf go through rank 0 and come back to everyone.
flux exec -r 0 -n env FLUX_EVENT_SUB_READY=ready flux event sub -c 1 test.fromleaf >leaf.out 2>leaf.err &
wait_until "subscriber on rank 0 ready" 10 grep -q ready leaf.err
ok "publish from rank 7" flux exec -r 7 flux event pub test.fromleaf.x
wait
output_is "rank 0 subscriber got the leaf's event" test.fromleaf.x cat leaf.out
rm -f leaf.*

# Modules on remote ranks are reached by rank.
ok "load hello on rank 5" flux module load -r 5 hello
output_has "hello on rank 5 answers" '^5!hello.ping' flux ping -c 1 -r 5 hello
output_has "a request from rank 6 finds hello upstream only if on the path" 'No service matching' \
    flux exec -r 6 flux ping -c 1 hello
ok "remove hello on rank 5" flux module remove -r 5 hello
done_testing
