#!/bin/bash
# A single-broker instance: attributes, ping, logging, commands, errors.
. "$(dirname "$0")/lib.sh"
test_under_flux 1

output_is "rank is 0" 0 flux getattr rank
output_is "the initial program does not see the broker's PMI" "" printenv PMI_FD
output_is "size is 1" 1 flux getattr size
output_is "instance-level is 0" 0 flux getattr instance-level
output_is "tbon.fanout defaults to 2" 2 flux getattr tbon.fanout
output_is "local-uri matches FLUX_URI" "$FLUX_URI" flux getattr local-uri
ok "rundir exists" test -d "$(flux getattr rundir)"
output_is "broker.pid is a live process" 0 bash -c 'kill -0 $(flux getattr broker.pid); echo $?'
output_has "version attribute" '^[0-9]+\.[0-9]+\.[0-9]+$' flux getattr version
output_has "hostname attribute" "^$(hostname)$" flux getattr hostname
output_has "broker.mapping is a taskmap" '"map":\[\[0,1,1,1\]\]' flux getattr broker.mapping
for a in rank size hostname rundir local-uri instance-level version tbon.fanout broker.pid broker.mapping log-level; do
    output_has "lsattr lists $a" "^$a\$" flux lsattr
done
output_has "lsattr -v shows values" '^size +1$' flux lsattr -v
exit_code 1 "getattr of an unknown attribute fails" flux getattr no.such.attr
output_has "...with a clear message" 'no.such.attr: No such file or directory' flux getattr no.such.attr
ok "setattr log-level" flux setattr log-level 7
output_is "log-level changed" 7 flux getattr log-level
not_ok "setattr of a read-only attribute fails" flux setattr rank 5
output_has "...saying why" 'cannot be changed' flux setattr rank 5
ok "setattr of a new attribute" flux setattr test.foo bar
output_is "...and getattr sees it" bar flux getattr test.foo

output_has "ping broker" '^broker.ping pad=0 seq=0 time=[0-9.]+ ms' flux ping -c 1 broker
output_has "ping rank 0 by number" '^0!broker.ping pad=0 seq=0' flux ping -c 1 0
output_has "ping with padding" 'pad=100 seq=1' flux ping -c 2 -i 0 -p 100 broker
exit_code 1 "ping an unknown service fails" flux ping -c 1 nosuchservice
output_has "...with ENOSYS text" 'nosuchservice.ping: No service matching' flux ping -c 1 nosuchservice
output_has "ping a rank that does not exist" 'No route to host|not in this instance' flux ping -c 1 -r 5 broker

ok "logger" flux logger --severity=err "hello from the test $$"
output_has "dmesg shows the logged message" "logger.err\[0\]: hello from the test $$" flux dmesg
output_has "dmesg shows broker boot" 'broker.info\[0\]: boot: rank=0 size=1' flux dmesg
ok "dmesg -C clears the ring" flux dmesg -C
output_is "ring is empty after clear" "" flux dmesg

output_has "uptime" '^ [0-9:]+ run [0-9.]+[smhd],  owner [a-z]+,  depth 0,  size 1$' flux uptime
output_has "version shows broker" '^broker: +[0-9.]+' flux version
output_has "flux --help lists commands" 'start +Bootstrap' flux --help
exit_code 1 "unknown command fails" flux no-such-command
output_has "...clearly" "'no-such-command' is not a flux command" flux no-such-command
exit_code 1 "unknown option fails" flux getattr --bogus rank
exit_code 1 "missing argument fails" flux getattr
exit_code 1 "unreachable FLUX_URI fails" env FLUX_URI=local:///nonexistent/socket flux getattr rank
output_has "...with one clear line" '^flux-getattr: cannot connect to /nonexistent/socket: No such file or directory$' \
    env FLUX_URI=local:///nonexistent/socket flux getattr rank
exit_code 1 "malformed FLUX_URI fails" env FLUX_URI=bogus:/x flux getattr rank
exit_code 1 "FLUX_URI unset fails" env -u FLUX_URI flux getattr rank
output_has "...saying so" 'FLUX_URI is not set' env -u FLUX_URI flux getattr rank

# Events on one rank
FLUX_EVENT_SUB_READY=subscribed flux event sub -c 2 test.basic >sub.out 2>sub.err &
sub=$!
wait_until "subscriber is subscribed" 10 grep -q subscribed sub.err
ok "publish an event" flux event pub test.basic.one
ok "publish an event with payload" flux event pub test.basic.two '{"x":1}'
ok "subscriber exits after 2 events" wait $sub
output_is "both delivered in order" "$(printf 'test.basic.one\ntest.basic.two\t{"x":1}')" cat sub.out
rm -f sub.out sub.err
exit_code 1 "event pub with invalid JSON fails" flux event pub test.bad '{bad'
export PATH="$FLUX_BUILD_DIR/t/tools:$PATH"
output_has "a field of the wrong type gets EPROTO" '^71: event.pub: malformed request' \
    rpc event.pub '{"topic":"x","flags":"bad"}'
output_has "a missing field gets EPROTO" "^71: event.pub: missing or invalid 'topic'" rpc event.pub '{}'
output_has "a payload that is not JSON gets EPROTO" '^71: attr.get: malformed payload' rpc attr.get 'nonsense'
ok "broker is still up" flux ping -c 1 broker
exit_code 1 "setattr of a start-up attribute is refused" flux setattr broker.poll-spin-us 5

done_testing
