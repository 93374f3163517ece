#!/bin/bash
# Module load, list, remove, reload; failures are contained.
. "$(dirname "$0")/lib.sh"
export PATH="$FLUX_BUILD_DIR/t/tools:$PATH"
test_under_flux 2

ok "load hello by name" flux module load hello
output_has "list shows it running" '^hello +[0-9]+ running +hello$' flux module list
output_is "hello.greet answers" '{"greeting":"hello, test","rank":0}' rpc hello.greet '{"name":"test"}'
exit_code 1 "hello.greet with bad JSON is refused" rpc hello.greet '{oops'
output_has "...with EPROTO" '^71: hello.greet: ' rpc hello.greet '{oops'
exit_code 1 "unknown method of a module" rpc hello.nosuch
output_has "...answers ENOSYS" '^38: ' rpc hello.nosuch
output_has "module ping" '^hello.ping pad=0 seq=0' flux ping -c 1 hello
exit_code 1 "loading it twice fails" flux module load hello
output_has "...with a clear message" 'already loaded' flux module load hello
ok "reload" flux module reload hello
output_has "still listed after reload" '^hello ' flux module list
ok "remove" flux module remove hello
ok "list no longer shows it" bash -c "! flux module list | grep -q '^hello '"
output_is "the default modules are still there" "job-exec job-ingest job-list job-manager resource sched-simple" \
    bash -c "flux module list | tail -n +2 | awk '{print \$1}' | sort | xargs"
exit_code 1 "remove an unloaded module fails" flux module remove hello
ok "remove -f of an unloaded module succeeds" flux module remove -f hello
ok "load by path" flux module load "$FLUX_BUILD_DIR/lib/flux/modules/hello.so"
ok "remove it" flux module remove hello

exit_code 1 "unknown module fails" flux module load no-such-module
output_has "...naming it" "module 'no-such-module' not found" flux module load no-such-module
echo "not a shared object" >notamodule.so
exit_code 1 "a file that is not a shared object fails" flux module load "$PWD/notamodule.so"
output_has "...with the loader's reason" 'cannot load module' flux module load "$PWD/notamodule.so"
rm -f notamodule.so
exit_code 1 "a module whose start-up fails is reported" flux module load hello fail
output_has "...as failed" 'failed to start' flux module load hello fail
output_has "...and not listed" '^Module' flux module list
ok "broker still answers" flux ping -c 1 broker

# A module whose handler throws: reported, removed, broker unharmed.
ok "load hello again" flux module load hello
output_is "count works" '{"count":1}' rpc hello.count
output_has "hello.crash gets an error at once, not a hang" '^5: request handler failed: hello.crash was requested' \
    timeout 5 rpc hello.crash
wait_until "crashed module is removed" 10 bash -c '! flux module list | grep -q "^hello "'
output_has "the failure is in the log" 'module hello failed: uncaught exception: hello.crash was requested' flux dmesg
ok "broker still answers" flux ping -c 1 broker
ok "module can be loaded again" flux module load hello
output_is "fresh state" '{"count":1}' rpc hello.count

# Modules on another rank
ok "load on rank 1" flux module load -r 1 hello
output_is "rank 1 hello answers with its rank" '{"greeting":"hello, world","rank":1}' rpc -r 1 hello.greet
output_has "list -r 1" '^hello ' flux module list -r 1
ok "a request from rank 1 is served by rank 1's module" \
    bash -c 'flux exec -r 1 '"$FLUX_BUILD_DIR"'/t/tools/rpc hello.greet | grep -q "\"rank\":1"'
ok "remove on rank 1" flux module remove -r 1 hello
ok "a request from rank 1 now goes up to rank 0's module" \
    bash -c 'flux exec -r 1 '"$FLUX_BUILD_DIR"'/t/tools/rpc hello.greet | grep -q "\"rank\":0"'
done_testing
