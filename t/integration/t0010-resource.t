#!/bin/bash
# Configured resources: two fake 20-core nodes on a 2-core machine; drain,
# undrain, exclude, persistence, the acquisition protocol, bad input.
. "$(dirname "$0")/lib.sh"
export PATH="$FLUX_BUILD_DIR/t/tools:$PATH"
if [ -z "${FLUX_TEST_INSIDE:-}" ]; then
    conf=$(mktemp -d)
    printf '[[resource.config]]\nhosts = "rzalastor[6-7]"\ncores = "0-19"\n' >"$conf/resource.toml"
    export TEST_CONF=$conf
fi
test_under_flux 2 --test-hosts='rzalastor[6-7]' -c "$TEST_CONF" --conf=access.allow-guest-user=true

output_is "resource list shows the configured nodes" "$(cat <<'EOT'
     STATE NNODES   NCORES    NGPUS NODELIST
      free      2       40        0 rzalastor[6-7]
 allocated      0        0        0
      down      0        0        0
EOT
)" flux resource list
output_is "resource info" "2 Nodes, 40 Cores, 0 GPUs" flux resource info
output_is "resource status" "$(printf '     STATE UP NNODES NODELIST\n     avail  y      2 rzalastor[6-7]')" \
    env LANG=C flux resource status
output_is "resource list -n -s free -o" "2 rzalastor[6-7] 0-1" flux resource list -n -s free -o '{nnodes} {nodelist} {ranks}'
output_is "--skip-empty" "$(printf '     STATE NNODES   NCORES    NGPUS NODELIST\n      free      2       40        0 rzalastor[6-7]')" \
    flux resource list --skip-empty
output_is "-i by host" "1 rzalastor7" flux resource list -n -s free -i rzalastor7 -o '{nnodes} {nodelist}'
output_is "-i by rank" "1 rzalastor6" flux resource list -n -s free -i 0 -o '{nnodes} {nodelist}'
output_has "resource R" '"R_lite":\[\{"children":\{"core":"0-19"\},"rank":"0-1"\}\].*"nodelist":\["rzalastor\[6-7\]"\]' flux resource R
output_has "the eventlog has resource-define" 'resource-define method=configuration' flux resource eventlog
exit_code 1 "an unknown state is refused" flux resource list -s bogus
exit_code 1 "an unknown format field is refused" flux resource list -o '{bogus}'
output_has "...naming it" "nknown (format )?field.*bogus" flux resource list -o '{bogus}'

# Acquisition protocol (RFC 28): initial response, then deltas.
rpc -r 0 -s 3 resource.acquire >acq.out 2>&1 &
acq=$!
wait_until "acquire got its first response" 10 grep -q resources acq.out
ok "initial response has R and up" grep -q '"up":"0-1"' acq.out

ok "drain by hostname with a reason" flux resource drain rzalastor7 bad memory
output_has "drain listing shows it" '^[A-Z][a-z]{2}[0-9]{2} [0-9:]{5}  drained  bad memory +rzalastor7$' flux resource drain
output_has "status shows drained" '^   drained  y      1 rzalastor7$' env LANG=C flux resource status
output_is "list shows it down" "down 1 rzalastor7" flux resource list -n -s down -o '{state} {nnodes} {nodelist}'
wait_until "acquirer was told rank 1 is down" 10 grep -q '"down":"1"' acq.out
exit_code 1 "draining it again fails" flux resource drain 1 again
output_has "...already drained" 'already drained' flux resource drain 1 again
ok "drain -u leaves it" flux resource drain -u 1 other
output_has "...reason unchanged" 'bad memory' flux resource drain
ok "drain -f overwrites the reason" flux resource drain -f 1 new reason
output_has "...reason changed" 'new reason' flux resource drain
exit_code 1 "drain of an unknown host fails" flux resource drain nosuchhost7
output_has "...naming it" "unknown host 'nosuchhost7'" flux resource drain nosuchhost7
exit_code 1 "drain of a rank outside the instance fails" flux resource drain 5
exit_code 1 "drain of garbage fails" flux resource drain 'foo[1-'
guest() { setpriv --reuid=65534 --regid=65534 --clear-groups env FLUX_URI="$FLUX_URI" PATH="$PATH" "$@"; }
exit_code 1 "a guest cannot drain" guest flux resource drain 0 mine
output_has "...permission denied" 'permission denied' guest flux resource drain 0 mine
exit_code 1 "a guest cannot undrain" guest flux resource undrain 1
ok "a guest can list" guest flux resource list
ok "a guest can see drained nodes" guest flux resource drain
ok "undrain" flux resource undrain 1
wait_until "acquirer was told rank 1 is up again" 10 grep -q '"up":"1"' acq.out
wait $acq
exit_code 1 "undrain of an undrained node fails" flux resource undrain 1
ok "undrain -f does not" flux resource undrain -f 1
output_has "the eventlog has drain and undrain" 'undrain idset=1 nodelist=rzalastor7' flux resource eventlog
rm -f acq.out "$TEST_CONF"/*.toml
rmdir "$TEST_CONF" 2>/dev/null
done_testing
