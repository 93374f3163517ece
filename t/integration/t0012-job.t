#!/bin/bash
# Jobs on one broker (2 cores): flux run/submit/bulksubmit/job/cancel/queue
# through the CLI — exit codes, environment, output, time limits, cancel,
# urgency and holds, dependencies, unsatisfiable requests, bad input.
. "$(dirname "$0")/lib.sh"
test_under_flux 1
cd "$(mktemp -d)" || exit 1

output_is "run: output" "hello" flux run echo hello
exit_code 0 "run: exit 0" flux run true
exit_code 3 "run: task exit code is the job's" flux run sh -c 'exit 3'
exit_code 127 "run: missing command exits 127" flux run /nonexistent/cmd
output_has "run: missing command says why" 'task 0: start failed: /nonexistent/cmd: No such file' \
    flux run /nonexistent/cmd
exit_code 143 "run: task killed by SIGTERM exits 143" flux run sh -c 'kill -TERM $$'
output_has "run: killed task is explained" 'task\(s\) Terminated' flux run sh -c 'kill -TERM $$'
output_is "run: stderr is carried" "oops" bash -c 'flux run sh -c "echo oops >&2" 2>&1 >/dev/null'
output_is "run -n2: every task runs" "0 1" bash -c 'flux run -n2 printenv FLUX_TASK_RANK | sort | xargs'
output_is "run -n2: job size" "2 2" bash -c 'flux run -n2 printenv FLUX_JOB_SIZE | xargs'
output_is "run: FLUX_JOB_NNODES, FLUX_TASK_LOCAL_ID" "1 0" \
    flux run sh -c 'echo $FLUX_JOB_NNODES $FLUX_TASK_LOCAL_ID'
output_has "run: FLUX_JOB_ID is the f58 id" '^f[1-9A-HJ-NP-Za-km-z]+$' flux run printenv FLUX_JOB_ID
output_is "run: FLUX_URI points at the broker" "$FLUX_URI" flux run printenv FLUX_URI
output_is "run: environment is copied" "xyz" env MYVAR=xyz flux run printenv MYVAR
output_is "run --env sets a variable" "abc" flux run --env=MYVAR2=abc printenv MYVAR2
exit_code 1 "run --env-remove removes one" env MYVAR=xyz flux run --env-remove=MYVAR printenv MYVAR
output_is "run --cwd" "/tmp" flux run --cwd=/tmp pwd
output_is "run: default cwd is the caller's" "$PWD" flux run pwd
output_is "run --label-io" "$(printf '0: a\n1: a')" bash -c 'flux run -n2 --label-io echo a | sort'
output_is "run: output order per task is kept" "$(seq 1 200 | xargs)" bash -c 'flux run seq 1 200 | xargs'
output_is "run --label-io --output: the shell labels the file" "$(printf '0: hi\n1: hi')" \
    bash -c 'flux run -n2 --label-io --output=labeled.out echo hi >/dev/null 2>&1; sort labeled.out'
output_is "run --error alone: stdout still comes back" "o" \
    bash -c 'flux run --error=err.only sh -c "echo o; echo e >&2" 2>/dev/null'
output_is "...and stderr is in the file" "e" cat err.only
output_has "run: a missing command ends the job with an exec exception" \
    'exception type="exec" severity=0 .*task 0: start failed: nosuchcmd' \
    bash -c 'flux run nosuchcmd >/dev/null 2>&1; flux job eventlog $(flux job last)'
# Output streams while the job runs: the first line is here long before the job ends.
output_is "run: output is streamed live" "early" \
    bash -c 'flux run sh -c "echo early; sleep 2; echo late" | { read -r l; echo "$l"; flux job wait-event -t 0.5 $(flux job last) finish >/dev/null 2>&1 && echo "job already over"; cat >/dev/null; }'
output_has "run -c2: a slot of two cores" '"core":"0-1"' \
    bash -c 'flux run -c2 true && flux job info $(flux job last) R'
output_has "--dry-run -c2: the slot asks for 2 cores" '"with":\[\{"count":2,"type":"core"\}\]' flux run --dry-run -c2 true
output_has "--dry-run -o: a shell option" '"shell":\{"options":\{"cpu-affinity":"off"' \
    flux run --dry-run -o cpu-affinity=off true
output_has "--dry-run -S: a system attribute" '"system":\{.*"mykey":"myval"' flux run --dry-run -S mykey=myval true
output_has "--dry-run --setattr=user.x: a user attribute" '"user":\{"x":1\}' flux run --dry-run --setattr=user.x=1 true
output_has "ids are f58 with ƒ under a UTF-8 locale" '^ƒ' env -u FLUX_F58_FORCE_ASCII LC_ALL=C.UTF-8 flux submit true
output_has "...and f otherwise" '^f[1-9A-HJ-NP-Za-km-z]+$' env -u FLUX_F58_FORCE_ASCII LC_ALL=C flux submit true
output_has "run -n1: tasks are bound to the allocated core" 'Cpus_allowed_list:[[:space:]]+[0-9]+$' \
    flux run grep Cpus_allowed_list /proc/self/status

# time limits
exit_code 142 "run -t 1s: a time-limit kill exits 142" flux run -t 1s sleep 30
output_has "run -t: the timeout exception is shown" 'job.exception type=timeout severity=0' flux run -t 0.5s sleep 30
output_has "--dry-run: -t 5 is five minutes" '"duration":300' flux run --dry-run -t 5 true
output_has "--dry-run: -t 30s" '"duration":30' flux run --dry-run -t 30s true

# submit, ids, eventlog, info
id=$(flux submit --flags=waitable true)
ok "submit prints an id" test -n "$id"
ok "wait for a waitable job" flux job wait "$id"
output_is "job id: f58 -> dec -> f58" "$id" bash -c "flux job id --to=f58 \$(flux job id $id)"
output_is "job id: hex round trip" "$id" bash -c "flux job id --to=f58 \$(flux job id --to=hex $id)"
output_is "job id: dothex round trip" "$id" bash -c "flux job id --to=f58 \$(flux job id --to=dothex $id)"
output_is "job id: words round trip" "$id" bash -c "flux job id --to=f58 \$(flux job id --to=words $id)"
output_is "eventlog: RFC 21 events in order" "submit validate depend priority alloc start finish release free clean" \
    bash -c "flux job eventlog $id | awk '{print \$2}' | xargs"
output_has "eventlog: submit context" 'submit userid=[0-9]+ urgency=16 flags=2 version=1' flux job eventlog "$id"
output_has "job info jobspec" '"command":\["true"\]' flux job info "$id" jobspec
output_has "job info R" '"R_lite"' flux job info "$id" R
exit_code 1 "job info: unknown job" flux job info f1 jobspec
output_is "job status: exit code" "0" bash -c "flux job status $id; echo \$?"
id=$(flux submit sh -c 'echo out; echo err >&2; exit 2')
exit_code 2 "job attach: replays output and returns the exit code" flux job attach "$id"
output_is "job attach: stdout replayed" "out" bash -c "flux job attach $id 2>/dev/null"

# output files
flux run --output=out.{{id}} echo to-file >/dev/null 2>&1
ok "--output writes a file named after the job id" bash -c 'grep -q to-file out.f*'
flux run --output=both.txt sh -c 'echo o; echo e >&2' >/dev/null 2>&1
output_is "--output alone also takes stderr" "$(printf 'e\no')" bash -c 'sort both.txt'

# cancel, kill, urgency, holds
id=$(flux submit sleep 300)
flux job wait-event -t 30 "$id" start >/dev/null
ok "cancel a running job" flux cancel "$id"
output_has "canceled job ends with a cancel exception" 'exception type="cancel"' \
    bash -c "flux job wait-event -t 30 $id clean >/dev/null; flux job eventlog $id"
id=$(flux submit sleep 300)
flux job wait-event -t 30 "$id" start >/dev/null
ok "job kill sends a signal" flux job kill -s SIGUSR1 "$id"
exit_code 138 "the task died of SIGUSR1" flux job attach "$id"
held=$(flux submit --urgency=0 true)
output_is "a held job stays in SCHED with priority 0" "priority=0" \
    bash -c "flux job wait-event -t 10 $held priority | awk '{print \$3}'"
ok "release the hold" flux job urgency "$held" default
ok "released job completes" flux job wait-event -t 30 "$held" clean
pend=$(flux submit --urgency=0 true)
ok "cancel a pending job" flux cancel -m "not needed" "$pend"
output_has "pending job canceled with the message" 'note="not needed"' \
    bash -c "flux job wait-event -t 10 $pend clean >/dev/null; flux job eventlog $pend"
exit_code 1 "urgency out of range is refused" flux job urgency "$pend" 40
blocker=$(flux submit -c2 sleep 300)
flux job wait-event -t 30 "$blocker" start >/dev/null
held=$(flux submit true)
ok "urgency hold" flux job urgency "$held" hold
output_is "a held job's INFO is held" "held" flux jobs -n -o '{contextual_info}' "$held"
waiting=$(flux submit true)
wait_until "a job waiting for cores says so in INFO" 10 \
    bash -c "flux jobs -n -o '{contextual_info}' $waiting | grep -qx 'insufficient resources'"
ok "urgency default releases it" flux job urgency "$held" default
ok "cancel the blocker" flux cancel "$blocker"
ok "the released job then runs" flux job wait-event -t 30 "$held" clean
ok "...and so does the waiting one" flux job wait-event -t 30 "$waiting" clean
output_is "flux jobs: a canceled job shows CA" "CA" flux jobs -n -o '{status_abbrev}' "$blocker"
to=$(flux submit -t 0.5s sleep 30)
flux job wait-event -t 30 "$to" clean >/dev/null
output_is "flux jobs: a timed-out job shows TO" "TO" flux jobs -n -o '{status_abbrev}' "$to"
exit_code 1 "cancel an unknown job" flux cancel f1

# dependencies
a=$(flux submit sh -c 'exit 1')
b=$(flux submit --dependency=afterok:$a true)
c=$(flux submit --dependency=afternotok:$a true)
ok "afternotok job runs after a failure" flux job wait-event -t 30 "$c" start
output_has "afterok job is canceled when its dependency fails" 'exception type="dependency"' \
    bash -c "flux job wait-event -t 30 $b clean >/dev/null; flux job eventlog $b"
d=$(flux submit --dependency=afterany:$a true)
ok "afterany job runs" flux job wait-event -t 30 "$d" start
exit_code 1 "a dependency on an unknown job fails the job" flux run --dependency=afterok:f1 true

# unsatisfiable and bad input
output_has "unsatisfiable: more cores than the instance" 'unsatisfiable request' flux run -n 9 true
exit_code 1 "unsatisfiable: submit fails" flux submit -N 2 true
exit_code 1 "-n 0 is refused" flux run -n 0 true
exit_code 1 "unknown option is refused" flux run --no-such-option true
exit_code 1 "bad time limit is refused" flux run -t 5x true
exit_code 1 "-n -1 is refused" flux run -n -1 true
exit_code 1 "-N 0 is refused" flux run -N 0 true
output_is "submit --quiet prints nothing" "" flux submit --quiet true
exit_code 3 "submit --wait exits with the job's code" flux submit --wait sh -c 'exit 3'
output_is "submit --watch shows the output" "watched" bash -c 'flux submit --watch echo watched 2>/dev/null | grep -v "^f"'
output_has "submit --progress draws a bar with jobs/s" '\[#+\] 3/3 jobs [0-9.]+ job/s' \
    bash -c 'flux submit --progress --cc=1-3 true 2>&1 >/dev/null'
output_has "submit --wait --progress counts jobs as they end (PD R CD F)" \
    'PD:0 +R:0 +CD:3 +F:1 +\[#+\] 4/4' \
    bash -c 'flux submit --cc=1-4 --wait --progress --quiet sh -c "exit \$((FLUX_JOB_CC == 4))" 2>&1 | tr "\r" "\n"'
output_has "flux jobs -A -a lists every user's jobs" "^$(id -un)\$" flux jobs -A -a -n -o '{username}'
output_is "flux jobs -u nobody: none of theirs" "" flux jobs -a -u nobody -n
output_is "flux jobs --since: nothing inactive since a minute ahead" "" \
    bash -c 'flux jobs -n --since=$(( $(date +%s) + 60 )) -o "{id}"'
# job-manager.submit: a JSON header, a newline, then the jobspec texts raw.
rpc() { "$FLUX_BUILD_DIR/t/tools/rpc" "$@"; }
output_has "a submit batch without its newline gets EPROTO" '^71: .*no newline after the header' \
    rpc job-manager.submit '{"texts":[],"facts":[],"jobs":[]}'
output_has "...one whose texts are cut short" '^71: .*shorter than their lengths' \
    rpc job-manager.submit $'{"texts":[{"length":100}],"jobs":[]}\n{}'
output_has "...one with bytes after its texts" '^71: .*bytes left after the texts' \
    rpc job-manager.submit $'{"texts":[{"length":2}],"jobs":[]}\n{}junk'
output_has "...one whose header is not JSON" '^71: ' rpc job-manager.submit $'{oops\n{}'
exit_code 0 "the job manager lives on" flux run true
echo '{"version": 1, "resources": []}' >bad.json
output_has "malformed jobspec is refused with the reason" 'jobspec' flux job submit bad.json
cat >good.yaml <<'EOT'
version: 1
resources:
  - type: slot
    count: 1
    label: task
    with:
      - type: core
        count: 1
tasks:
  - command: ["echo", "from-yaml"]
    slot: task
    count:
      per_slot: 1
attributes:
  system:
    duration: 0
EOT
id=$(flux job submit good.yaml)
output_is "flux job submit takes YAML" "from-yaml" flux job attach "$id"

# bulk submission and the queue
output_is "submit --cc prints one id per copy" "3" bash -c 'flux submit --cc=1-3 true | wc -l'
# Each copy's environment names its id; --bcc sets none; {cc} expands.
cc_outputs() { for id in $(flux submit "$@"); do flux job attach "$id"; done | xargs; }
output_is "submit --cc=4-6: FLUX_JOB_CC is each copy's id" "4 5 6" cc_outputs --cc=4-6 printenv FLUX_JOB_CC
output_is "submit --bcc=1-2: no FLUX_JOB_CC" "unset unset" cc_outputs --bcc=1-2 sh -c 'echo ${FLUX_JOB_CC:-unset}'
output_is "submit --cc=7-8 echo {cc} job{cc}: {cc} expands in each copy" "7 job7 8 job8" \
    cc_outputs --cc=7-8 echo {cc} job{cc}
# A shell from the zygote sends its last output entries without waiting
# for an answer: they are stored all the same, before the job ends.
output_is "20 jobs' last output is all stored" "$(seq 1 20 | xargs)" \
    bash -c 'ids=$(flux submit --cc=1-20 echo {cc}); flux queue drain -t 60 && for id in $ids; do flux job attach $id; done | xargs'
output_is "bulksubmit substitutes inputs" "a b c" \
    bash -c 'for id in $(flux bulksubmit echo {} ::: a b c); do flux job attach $id; done | sort | xargs'
# Regression: a client with hundreds of requests in flight used to hang
# once the broker's answers backed up (the client fd fell out of epoll).
# The job ingest takes them in several batches; each id is distinct.
output_is "500 held submissions in flight at once all get distinct ids" "500" \
    bash -c 'timeout 60 flux submit --cc=1-500 --urgency=0 true | sort -u | wc -l'
output_has "cancel --all cancels them" 'Canceled 500 jobs' flux cancel --all
ok "queue drain returns once all jobs are done" flux queue drain -t 60
ok "queue stop" flux queue stop
output_is "queue status shows stopped" "$(printf 'Job submission is enabled\nScheduling is stopped')" flux queue status
id=$(flux submit true)
ok "a job submitted while stopped stays pending" bash -c "! flux job wait-event -t 0.5 $id alloc"
ok "queue start" flux queue start
ok "it runs once started" flux job wait-event -t 30 "$id" clean
ok "queue idle" flux queue idle -t 30

# A task that ignores SIGTERM is killed after [exec] kill-timeout.
output_is "cancel escalates to SIGKILL after the kill timeout" "137" \
    flux start --conf=exec.kill-timeout=0.5 bash -c 'id=$(flux submit sh -c "trap \"\" TERM; echo ready; sleep 30")
        flux job wait-event -t 10 -p output $id data >/dev/null && flux cancel $id
        flux job attach $id >/dev/null 2>&1; echo $?'

# What the job manager stores outlives the instance: another instance on the
# same statedir lists the job and replays its eventlog and output.
sd=$(mktemp -d)
id=$(flux start -Sstatedir="$sd" flux submit --wait echo persisted)
output_is "a restart on the same statedir replays a job's output" "persisted" \
    flux start -Sstatedir="$sd" flux job attach "$id"
output_is "...lists it as completed" "$id CD" flux start -Sstatedir="$sd" flux jobs -a -n -o '{id} {status_abbrev}'
output_has "...and has its eventlog" ' clean$' flux start -Sstatedir="$sd" flux job eventlog "$id"
new=$(flux start -Sstatedir="$sd" flux submit --wait true)
ok "...and a new job's id is larger than the old one's" test "$(flux job id "$new")" -gt "$(flux job id "$id")"

# Active jobs outlive it as well. At shutdown, as flux-core's rc3, running
# jobs are canceled and their ends stored; pending ones stay, and the next
# instance on the statedir queues them again (RFC 21 flux-restart).
sd=$(mktemp -d)
flux start -Sstatedir="$sd" bash -c '
    run=$(flux submit sleep 300); flux job wait-event -t 30 $run start >/dev/null
    held=$(flux submit --urgency=0 echo held ran)
    dep=$(flux submit --dependency=afterany:$run echo dep ran)
    excl=$(flux submit -N1 --exclusive echo exclusive ran)
    flux job wait-event -t 30 $excl priority >/dev/null
    echo $run $held $dep $excl' >ids 2>/dev/null
read -r run held dep excl <ids
flux start -Sstatedir="$sd" bash -c "
    flux job wait-event -t 30 $excl clean >/dev/null; flux job wait-event -t 30 $dep clean >/dev/null
    flux jobs -a -n -o '{id} {status_abbrev}' >states
    flux job eventlog $run >run.log; flux job eventlog $held >held.log
    flux job attach $excl >excl.out; flux job attach $dep >dep.out
    flux job urgency $held default; flux job attach $held >held.out" >/dev/null 2>&1
output_has "a job running at shutdown is canceled" "^$run CA\$" cat states
output_has "...saying why" 'exception type="cancel" severity=0 userid=[0-9]* note="the instance is shutting down"' \
    cat run.log
output_has "a job waiting for resources runs in the next instance" "^$excl CD\$" cat states
output_is "...with its output" "exclusive ran" cat excl.out
output_has "a job waiting on the canceled one runs (afterany)" "^$dep CD\$" cat states
output_is "...with its output" "dep ran" cat dep.out
output_has "a held job is still pending in the next instance" "^$held S\$" cat states
output_has "...queued again: flux-restart, then a new priority" '^[0-9.]* flux-restart$' cat held.log
output_has "...then a new priority" '^[0-9.]* priority priority=0$' bash -c 'grep -A1 flux-restart held.log | tail -1'
output_is "...and runs once released" "held ran" cat held.out

# A broker that dies (SIGKILL) cannot end its jobs: the next instance fails
# a job that was running and frees its resources.
sd=$(mktemp -d)
flux start -Sstatedir="$sd" bash -c '
    id=$(flux submit -N1 --exclusive sleep 3001); flux job wait-event -t 30 $id start >/dev/null
    echo $id >crash.id; kill -9 $(flux getattr broker.pid)' >/dev/null 2>&1
crashed=$(cat crash.id)
flux start -Sstatedir="$sd" bash -c "
    flux job wait-event -t 30 $crashed clean >/dev/null
    flux jobs -a -n -o '{id} {status_abbrev}' >crash.states; flux job eventlog $crashed >crash.log
    flux run -N1 --exclusive echo node freed >crash.out" >/dev/null 2>&1
output_is "a job running when its broker died has failed" "$crashed F" cat crash.states
output_has "...saying why" 'exception type="exec" severity=0 userid=0 note="the job manager restarted while the job was running"' \
    cat crash.log
output_is "...and its node is free again" "node freed" cat crash.out
ok "...and its tasks were killed" wait_gone "sleep 3001"

# The job manager reloaded while a job runs: job-exec kills the job (its
# end would reach nobody), the new job manager fails it from the store, and
# the scheduler, asked for the handshake again, frees its resources.
flux start bash -c '
    id=$(flux submit -N1 --exclusive sleep 3002); flux job wait-event -t 30 $id start >/dev/null
    flux module reload job-manager
    flux job wait-event -t 30 $id clean >/dev/null; flux job eventlog $id >reload.log
    flux run -N1 --exclusive echo node freed >reload.out' >/dev/null 2>&1
output_has "a job running when the job manager was reloaded has failed" \
    'exception type="exec" severity=0 userid=0 note="the job manager restarted while the job was running"' cat reload.log
ok "...its tasks were killed" wait_gone "sleep 3002"
output_is "...and its node runs the next job" "node freed" cat reload.out

# A job store that cannot commit (its disk is full): no submission is
# acknowledged that was not stored, and submission is disabled with the
# reason. A 256 KiB tmpfs as the statedir fills after a few jobs.
full=$(mktemp -d)
ok "mount a 256 KiB tmpfs for a statedir" mount -t tmpfs -o size=256k tmpfs "$full"
flux start -Sstatedir="$full" bash -c 'n=0
    while flux submit --urgency=0 true >/dev/null 2>submit.err; do n=$((n + 1)); [ $n -ge 5000 ] && break; done
    echo $n >acked; flux queue status >queue.status; flux submit true 2>after.err' >/dev/null 2>&1
ok "the disk filled before 5000 jobs" test "$(cat acked)" -lt 5000
output_has "the submission that could not be stored is refused, saying why" \
    'the job store failed: job store: COMMIT: database or disk is full' cat submit.err
output_has "submission is then disabled with that reason" \
    'Job submission is disabled: the job store failed' cat queue.status
output_has "...and later submissions are refused" 'job submission is disabled' cat after.err
output_is "every acknowledged job is in the store" "$(cat acked)" \
    flux start -Sstatedir="$full" bash -c 'flux jobs -a -n | wc -l'
umount "$full"

done_testing
