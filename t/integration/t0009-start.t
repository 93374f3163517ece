#!/bin/bash
# flux start itself: exit codes, sizes, test hosts, options, config, clean exit.
. "$(dirname "$0")/lib.sh"

exit_code 0 "flux start true" flux start true
exit_code 7 "initial program exit code is returned" flux start sh -c 'exit 7'
exit_code 127 "a missing initial program gives 127" flux start /no/such/program
output_has "...with a message" '/no/such/program: No such file or directory' flux start /no/such/program
exit_code 5 "exit code from a 4-broker instance" flux start --test-size=4 sh -c 'exit 5'
exit_code 130 "initial program killed by SIGINT gives 130" flux start sh -c 'kill -INT $$'
for n in 1 4 8; do
    output_is "size $n starts and answers" "$n" flux start --test-size=$n flux getattr size
done
output_is "--test-hosts sets hostnames" "$(printf 'node1\nnode2\nnode3')" \
    flux start --test-size=3 --test-hosts='node[1-3]' sh -c 'flux exec -r all flux getattr hostname | sort'
exit_code 1 "--test-hosts with too few hosts fails" flux start --test-size=3 --test-hosts='node[1-2]' true
exit_code 1 "a malformed --test-hosts fails" flux start --test-size=2 --test-hosts='node[1-' true
output_has "...naming it" "invalid hostlist" flux start --test-size=2 --test-hosts='node[1-' true
output_is "-S sets an attribute" bar flux start -Stest.foo=bar flux getattr test.foo
output_is "-o passes broker options" baz flux start -o,-Stest.foo=baz flux getattr test.foo
output_is "--setattr works too" qux flux start --setattr=test.foo=qux flux getattr test.foo
exit_code 1 "-S without = fails" flux start -Sfoo true
exit_code 1 "an unknown option fails" flux start --bogus true
output_has "...naming it" "bogus" flux start --bogus true
exit_code 1 "--test-size=0 fails" flux start --test-size=0 true
output_has "-X prints broker command lines" 'flux-broker .*-Srundir=.*/1' flux start -X --test-size=2 true
rd=$(mktemp -d)
ok "--rundir is used" flux start --test-size=2 --rundir="$rd" sh -c "test \"\$(flux getattr rundir)\" = $rd/0"
ok "--rundir is kept after exit" test -d "$rd"
rm -rf "$rd"
output_is "stdin reaches the initial program" piped bash -c 'echo piped | flux start cat'

# Configuration
cat >good.toml <<'EOT'
[tbon]
fanout = 3
EOT
output_is "-c FILE applies [tbon] fanout" 3 flux start --test-size=4 -c good.toml flux getattr tbon.fanout
mkdir -p conf.d && cp good.toml conf.d/tbon.toml
output_is "-c DIR reads *.toml" 3 flux start --test-size=2 -c conf.d flux getattr tbon.fanout
output_is "--conf overrides" 1 flux start --test-size=2 -c good.toml --conf=tbon.fanout=1 flux getattr tbon.fanout
printf '[tbon]\nfanout = \n' >bad.toml
exit_code 1 "a malformed config file fails" flux start --test-size=2 -c bad.toml true
output_has "...naming file and line" 'bad.toml:2:' flux start -c bad.toml true
printf '[tbon]\nfanout = "two"\n' >badtype.toml
exit_code 1 "a config value of the wrong type fails" flux start -c badtype.toml true
output_has "...naming the key" 'tbon.fanout: expected integer' flux start -c badtype.toml true
exit_code 1 "a missing config path fails" flux start -c /no/such/conf true
exit_code 1 "a malformed --conf fails" flux start --conf=novalue true
exit_code 1 "an invalid fanout fails" flux start --test-size=2 -Stbon.fanout=0 true
for bad in log-ring-size=abc log-level=loud broker.poll-spin-us=-1 tbon.fanout=2.5 tbon.topo=binomial; do
    exit_code 1 "a bad attribute value is refused ($bad)" flux start --test-size=2 -S$bad true
    output_has "...naming the attribute" "${bad%%=*}" flux start -S$bad true
done
rm -rf good.toml bad.toml badtype.toml conf.d

# Shutdown paths
exit_code 129 "flux shutdown from a background client ends the instance (initial program gets SIGHUP)" \
    timeout 20 flux start --test-size=2 sh -c 'flux shutdown -q & wait; sleep 30; exit 3'
flux start --test-size=4 sleep 30 &
sp=$!
wait_until "instance came up (4 brokers under flux start)" 10 bash -c "test \$(pgrep -c -P $sp) -eq 4"
pids=$(pgrep -P $sp | xargs)
kill -TERM $sp
wait $sp
ok "SIGTERM to flux start ends the instance (rc=$?)" true
wait_until "no brokers left behind" 10 bash -c "! ps -p ${pids// /,} >/dev/null"
done_testing
