#!/bin/bash
# A 4-broker instance with a flat tree (fanout 3) and the kary: syntax.
. "$(dirname "$0")/lib.sh"
test_under_flux 4 -Stbon.topo=kary:3

output_is "tbon.fanout follows tbon.topo" 3 flux getattr tbon.fanout
output_is "all children of rank 0" "$(cat <<EOT
0 $(hostname): full
├─ 1 $(hostname): full
├─ 2 $(hostname): full
└─ 3 $(hostname): full
EOT
)" flux overlay status
for r in 1 2 3; do
    output_is "rank $r parent is 0" 0 flux overlay parentof $r
    output_has "rank $r is one hop away" "\(c[0-9]+!0!$r\)" flux ping -c 1 -r $r broker
done
output_is "exec on all ranks" "0 1 2 3" bash -c 'flux exec -r all flux getattr rank | sort -n | xargs'
done_testing
