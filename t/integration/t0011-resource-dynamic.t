#!/bin/bash
# Discovered resources (hwloc) at sizes 1 and 4; a killed rank goes down;
# exclusion; drain state surviving a restart; bad resource configuration.
. "$(dirname "$0")/lib.sh"

ncores=$(nproc)
output_is "size 1 discovers this node" "1 Node, $ncores Core$([ $ncores -gt 1 ] && echo s), 0 GPUs" \
    flux start flux resource info
output_is "size 4 discovers four brokers' nodes" "4 Nodes, $((4 * ncores)) Cores, 0 GPUs" \
    flux start --test-size=4 flux resource info
output_is "hostnames come from the brokers" "$(printf 'h[0-3]')" \
    flux start --test-size=4 --test-hosts='h[0-3]' flux resource list -n -s free -o '{nodelist}'

# A killed rank goes down.
cat >kill.sh <<'EOT'
pid=$(flux exec -r 3 flux getattr broker.pid)
kill -9 $pid
for i in $(seq 1 200); do
    flux resource list -n -s down -o '{nnodes} {ranks}' | grep -q '^1 3$' && { echo down; break; }
    sleep 0.05
done
flux resource status -s offline -n -o '{ranks}'
# Bring it back by hand, in its old place under rank 1.
ep=$(flux exec -r 1 flux getattr tbon.endpoint)
rd=$(mktemp -d)
"$FLUX_BUILD_DIR/libexec/flux/flux-broker" -Sbroker.rank=3 -Sbroker.size=4 -Stbon.parent-endpoint="$ep" \
    -Srundir="$rd/3" >/dev/null 2>&1 &
for i in $(seq 1 200); do
    flux resource list -n -s up -o '{nnodes}' | grep -q '^4$' && { echo up; break; }
    sleep 0.05
done
flux overlay status --summary
EOT
output_is "a killed rank goes down, and up again when it returns" "$(printf 'down\n3\nup\n0 %s: full' "$(hostname)")" \
    flux start --test-size=4 bash kill.sh
rm -f kill.sh

# Exclusion
output_is "excluded ranks are not listed" "3 h[0-2]" \
    flux start --test-size=4 --test-hosts='h[0-3]' --conf=resource.exclude=h3 \
    flux resource list -n -s all -o '{nnodes} {nodelist}'
output_has "and show as excluded in status" '^   exclude' \
    flux start --test-size=4 --conf=resource.exclude=3 flux resource status
output_has "an excluded rank cannot be drained" 'excluded' \
    flux start --test-size=2 --conf=resource.exclude=1 flux resource drain 1

# Drain survives a restart when there is a statedir.
sd=$(mktemp -d)
ok "drain with a statedir" flux start --test-size=2 -Sstatedir="$sd" flux resource drain 1 persists
output_has "still drained after a restart" 'drained  persists' \
    flux start --test-size=2 -Sstatedir="$sd" flux resource drain
rm -rf "$sd"

# Given R (as a child instance will get it): used exactly, re-ranked.
cat >given.json <<'EOT'
{"version":1,"execution":{"R_lite":[{"rank":"5-6","children":{"core":"2-3","gpu":"0"}}],"nodelist":["big[5-6]"],"starttime":0,"expiration":0}}
EOT
output_is "a given R is used as is, re-ranked" "2 Nodes, 4 Cores, 2 GPUs" \
    flux start --test-size=2 -Sresource.R="$PWD/given.json" flux resource info
output_is "...ranks 0-1" "0-1 big[5-6]" \
    flux start --test-size=2 -Sresource.R="$PWD/given.json" flux resource list -n -s free -o '{ranks} {nodelist}'
exit_code 1 "a given R of the wrong size is refused" flux start --test-size=3 -Sresource.R="$PWD/given.json" true
output_has "...saying why" 'R has 2 node\(s\) but the instance has 3' \
    flux start --test-size=3 -Sresource.R="$PWD/given.json" true
rm -f given.json

# A configured R (path) may name more nodes than there are brokers: they stay down.
cat >big.json <<'EOT'
{"version":1,"execution":{"R_lite":[{"rank":"0-2","children":{"core":"0-3"}}],"nodelist":["cfg[0-2]"],"starttime":0,"expiration":0}}
EOT
printf '[resource]\npath = "%s"\n' "$PWD/big.json" >big.toml
output_is "configured nodes without a broker are down" "$(printf 'free 2 cfg[0-1]\ndown 1 cfg2')" \
    flux start --test-size=2 -c big.toml flux resource list -n -s free,down -o '{state} {nnodes} {nodelist}'
rm -f big.json big.toml

# Bad configuration: the instance says why and does not come up.
printf '[[resource.config]]\nhosts = "n[0-1]"\ncores = "0-x"\n' >bad.toml
exit_code 1 "a bad idset in resource.config fails start-up" flux start --test-size=2 --test-hosts='n[0-1]' -c bad.toml true
output_has "...naming it" "0-x" flux start --test-size=2 --test-hosts='n[0-1]' -c bad.toml true
printf '[[resource.config]]\nhosts = "other[0-1]"\ncores = "0-3"\n' >bad.toml
exit_code 1 "configured hosts that are not the instance's fail" flux start --test-size=2 --test-hosts='n[0-1]' -c bad.toml true
printf '[resource]\nbogus = 1\n' >bad.toml
output_has "an unknown [resource] key is named" "unknown configuration key 'resource.bogus'" flux start -c bad.toml true
rm -f bad.toml
done_testing
