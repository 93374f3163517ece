#!/bin/bash
# flux exec over the rexec service: output, exit codes, stdin, labels, errors.
. "$(dirname "$0")/lib.sh"
test_under_flux 4

output_is "exec on one rank" hi flux exec -r 2 echo hi
output_is "exec on all ranks runs 4 processes" 4 bash -c 'flux exec echo x | wc -l'
output_is "exec on an idset" "1 2 3" bash -c 'flux exec -r 1-3 flux getattr rank | sort -n | xargs'
output_is "label-io prefixes lines with the rank" "$(printf '0: a\n0: b')" flux exec -r 0 -l printf 'a\nb\n'
output_is "label-io completes a last partial line" "3: tail" flux exec -r 3 -l printf tail
output_is "stderr is carried" "oops" bash -c 'flux exec -r 1 sh -c "echo oops >&2" 2>&1 >/dev/null'
exit_code 3 "exit code is the largest of the processes" flux exec -r 0-3 sh -c 'exit $(flux getattr rank)'
output_has "non-zero exits are reported per rank" 'Error: rank 3: exited with exit code 3' \
    flux exec -r 0-3 sh -c 'exit $(flux getattr rank)'
exit_code 137 "a killed process gives 128+signal" flux exec -r 1 sh -c 'kill -9 $$'
exit_code 127 "a missing command gives 127" flux exec -r 1 /no/such/command
output_has "...with a clear message" 'rank 1: /no/such/command: No such file or directory' \
    flux exec -r 1 /no/such/command
output_is "stdin goes to every process" "$(printf 'in\nin')" bash -c 'echo in | flux exec -r 0,2 cat'
output_is "-n gives /dev/null stdin" "" bash -c 'echo in | flux exec -n -r 1 cat'
output_is "cwd is carried" "$PWD" flux exec -r 3 pwd
output_is "-d sets the cwd" "/tmp" flux exec -r 3 -d /tmp pwd
output_is "environment is carried" "val42" env TESTVAR=val42 flux exec -r 2 printenv TESTVAR
# rexec.exec responses, in order; "eof": false leaves out the pipes' ends.
rexec_types() { "$FLUX_BUILD_DIR/t/tools/rpc" -r 1 -s "$1" rexec.exec "$2" | grep -o '"type":"[a-z]*"' | cut -d'"' -f4 | xargs; }
output_is "rexec reports started, output, two eofs and finished (any order but the first)" "eof eof finished output started" \
    bash -c "$(declare -f rexec_types); rexec_types 5 '{\"cmd\":[\"echo\",\"hi\"]}' | tr ' ' '\n' | sort | xargs"
output_is "...and with eof false, no eofs" "started output finished" \
    bash -c "$(declare -f rexec_types); rexec_types 3 '{\"cmd\":[\"echo\",\"hi\"],\"eof\":false}'"
exit_code 1 "a bad idset is refused" flux exec -r 1-x true
output_has "...naming it" "invalid idset '1-x'" flux exec -r 1-x true
exit_code 1 "a rank beyond the instance is refused" flux exec -r 9 true
exit_code 1 "no command is refused" flux exec -r 0
exit_code 1 "an unknown option is refused" flux exec --bogus true

# SIGINT to flux exec is forwarded to the remote processes.
flux exec -r 3 -n sh -c 'echo started; trap "echo got-int; exit 9" INT; while :; do sleep 0.05; done' >int.out 2>&1 &
pid=$!
wait_until "remote process started" 10 grep -q started int.out
kill -INT $pid
wait $pid
rc=$?
ok "interrupted remote process saw SIGINT" grep -q got-int int.out
ok "flux exec exit code reflects it ($rc)" test $rc -eq 9
rm -f int.out

# A client that dies: the services it used hear of it (disconnect), and
# rexec kills what it started, on whatever rank.
flux exec -r 3 -n sleep 41.625 &
pid=$!
wait_until "remote process started" 10 pgrep -f 'sleep 41.625'
kill -9 $pid
wait_until "remote process is killed when its client dies" 10 bash -c "! pgrep -f '[s]leep 41.625'"

# A process that never reads its stdin cannot stall the broker.
head -c 4000000 /dev/zero | flux exec -r 1 sh -c 'sleep 2' &
pid=$!
wait_until "broker on rank 1 answers while stdin backs up" 10 flux ping -c 1 -r 1 broker
kill $pid 2>/dev/null; wait $pid 2>/dev/null
exit_code 1 "a bad working directory is refused" flux exec -r 1 -d /no/such/dir true
output_has "...saying so" 'cannot use /no/such/dir as working directory' flux exec -r 1 -d /no/such/dir true
done_testing
