#!/bin/bash
# Jobs on two brokers, seen from the user's side: stdin forwarding, flux jobs
# (default columns, filters, formats, INFO, --json, --stats), job-list
# following the job manager (and replaying it after a reload), flux job last,
# flux pstree, a guest acting on someone else's job, a job shell that dies.
. "$(dirname "$0")/lib.sh"
test_under_flux 2 --conf=access.allow-guest-user=true
cd "$(mktemp -d)" || exit 1
guest() { setpriv --reuid=65534 --regid=65534 --clear-groups env FLUX_URI="$FLUX_URI" PATH="$PATH" "$@"; }

# flux jobs: a held job, a dependent one, a running one, a pending one
flux submit --cc=1-3 --job-name=done{cc} true >/dev/null
flux queue drain -t 60
held=$(flux submit --urgency=0 --job-name=held sleep 1)
dep=$(flux submit --dependency=afterok:$held --job-name=dep true)
run=$(flux submit -N2 -n4 --job-name=big sleep 300)
flux job wait-event -t 30 "$run" start >/dev/null
pend=$(flux submit --job-name=pend true)
flux job wait-event -t 30 "$pend" priority >/dev/null
output_is "jobs: default header as flux-core" "       JOBID USER     NAME       ST NTASKS NNODES     TIME INFO" \
    bash -c 'flux jobs | head -1'
output_is "jobs: active jobs only, running last after pending" "pend held dep big" \
    bash -c 'flux jobs -n -o "{name}" | xargs'
output_has "jobs: a held job says held" 'held +S +1 +- +- +held$' flux jobs
output_has "jobs: a dependent job names its dependency" "dep +D .* depends:afterok:$held" flux jobs
output_has "jobs: a running job shows nodes and nodelist" 'big +R +4 +2 .* vm,vm$|big +R +4 +2 .* vm\[?' flux jobs
output_is "jobs -a: inactive jobs follow, most recent first" "pend held dep big done" \
    bash -c 'flux jobs -a -n -o "{name}" | sed "s/done[0-9]/done/" | uniq | xargs'
output_is "jobs -f running" "big" bash -c 'flux jobs -f running -n -o "{name}"'
output_is "jobs -f pending,completed" "6" bash -c 'flux jobs -f pending,completed -n | wc -l'
output_is "jobs --name" "dep" bash -c 'flux jobs --name=dep -n -o "{name}"'
output_is "jobs -c 2" "2" bash -c 'flux jobs -a -c 2 -n 2>/dev/null | wc -l'
output_is "jobs -o with flux-core's fields and format spec" "$(printf '%12s %-8.8s %-10.10s %2s' "$run" root big R)" \
    bash -c "flux jobs -n -o '{id.f58:>12} {username:<8.8} {name:<10.10} {status_abbrev:>2.2}' $run"
output_is "jobs -o: header of a format" "     NTASKS NNODES" bash -c "flux jobs -o '{ntasks:>11} {nnodes:>6h}' $run | head -1"
output_is "jobs --json parses and carries the id" "$(flux job id $run)" \
    bash -c "flux jobs --json $run | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"id\"])'"
output_is "jobs --json: -a lists every job" "7" \
    bash -c "flux jobs -a --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"jobs\"]))'"
output_has "jobs --stats: a summary line" '1 running, 3 completed, 0 failed, 3 pending' flux jobs --stats
output_is "jobs --sort=name" "big dep held pend" bash -c 'flux jobs --sort=name -n -o "{name}" | xargs'
output_is "jobs: an unknown id is reported" "JobID f1 unknown" bash -c 'flux jobs f1 2>&1 >/dev/null'
exit_code 1 "jobs: ...and the exit code says so" flux jobs f1
exit_code 1 "jobs: an unknown field is refused" flux jobs -o '{nosuchfield}'

# job-list replays the job manager's history when it comes back
before=$(flux jobs -a -n | wc -l)
ok "job-list reloads" flux module reload job-list
wait_until "after a reload job-list knows every job again" 10 bash -c "test \$(flux jobs -a -n | wc -l) -eq $before"
output_has "...with their states" 'held +S .* held$' flux jobs
output_is "job last: the most recent submission" "$pend" flux job last
output_is "job last 2: the two most recent, newest first" "$(printf '%s\n%s' "$pend" "$run")" flux job last 2
output_has "pstree shows the running job" '(└|`)── big' flux pstree

# a guest and someone else's job
output_has "guest cannot cancel another user's job" 'guests may only raise exceptions on their own jobs' \
    guest flux cancel "$run"
exit_code 1 "...and exits 1" guest flux cancel "$run"
exit_code 1 "guest cannot signal it" guest flux job kill "$run"
exit_code 1 "guest cannot change its urgency" guest flux job urgency "$run" 20
exit_code 1 "guest cannot read its eventlog" guest flux job eventlog "$run"
output_is "guest does not see it in flux jobs" "" guest flux jobs -n
ok "the job is still running" flux job wait-event -t 1 "$run" start
output_has "a guest's job is refused at submit: shells run as the owner" 'multi-user execution is not configured' \
    guest flux submit true
exit_code 1 "...and flux run exits 1" guest flux run true

flux cancel "$run" "$held" "$dep" "$pend" 2>/dev/null
flux queue drain -t 60

# stdin
output_is "run: stdin reaches the task" "hello" bash -c 'echo hello | flux run cat'
output_is "run -n2: stdin goes to every task" "$(printf '0: a\n0: b\n1: a\n1: b')" \
    bash -c 'printf "a\nb\n" | flux run -N2 -n2 --label-io cat | sort'
output_is "run --input=1: only task 1 gets stdin" "$(printf '0: done\n1: done\n1: x')" \
    bash -c 'printf "x\n" | flux run -n2 --input=1 --label-io sh -c "cat; echo done" | sort'
output_is "run: a large piped stdin arrives whole" "200000" bash -c 'seq 1 200000 | flux run wc -l'
seq 1 50000 >lines.txt
output_is "run: stdin from a regular file" "50000" bash -c 'flux run wc -l <lines.txt'
head -c 100000 /dev/urandom >bin.dat
output_is "run: binary stdin is carried byte for byte" "$(md5sum <bin.dat)" bash -c 'flux run md5sum <bin.dat'
output_is "run: /dev/null stdin gives EOF at once" "0" bash -c 'flux run wc -c </dev/null'
output_is "run --input=FILE reads the file" "50000" bash -c 'flux run --input=lines.txt wc -l </dev/null'

# jobs that differ only in FLUX_JOB_CC share one feasibility check: each is still refused
output_is "submit --cc of an unsatisfiable job refuses every copy" "3" \
    bash -c 'flux submit --cc=1-3 -n 99 echo {cc} 2>&1 | grep -c "unsatisfiable request"'
output_is "...and a satisfiable copy in the same batch is accepted" "2" \
    bash -c '(flux submit --cc=1-2 -n 1 true & flux submit -n 99 true 2>/dev/null; wait) | wc -l'

# a job shell that dies
id=$(flux submit sleep 301)
flux job wait-event -t 30 "$id" start >/dev/null
ok "kill the job's shell" pkill -9 -f "flux-shell $(flux job id "$id")"
ok "the job ends" flux job wait-event -t 30 "$id" clean
output_has "...with an exec exception that says why" 'exception type="exec" .*job shell on rank [01] died: Killed' \
    flux job eventlog "$id"
output_is "...its tasks are gone" "0" bash -c 'pgrep -fx "sleep 301" | wc -l'
output_is "...and the next job runs" "ok" flux run echo ok

# Job shells are forked by a warm `flux-shell --zygote` under each broker.
zygotes() { ps -o args= --ppid "$(flux getattr broker.pid)" | grep -c '^[^ ]*/flux-shell --zygote'; }
output_is "the broker has one shell zygote" "1" zygotes
id=$(flux submit sleep 302)
flux job wait-event -t 30 "$id" start >/dev/null
# Only this instance's zygotes (other tests may run alongside).
zygote_pids() {
    for b in $(flux exec -r all flux getattr broker.pid); do ps -o pid=,args= --ppid "$b"; done |
        awk '$2 ~ /\/flux-shell$/ && $3 == "--zygote" {print $1}'
}
zp=$(zygote_pids)
ok "kill the zygotes while a job runs" kill -9 $zp
ok "the job ends" flux job wait-event -t 30 "$id" clean
output_has "...with an exec exception" 'exception type="exec" .*job shell on rank [01] died: Killed' \
    flux job eventlog "$id"
output_is "...its tasks are gone" "0" bash -c 'pgrep -fx "sleep 302" | wc -l'
output_is "the next job runs, from a new zygote" "ok 1" echo "$(flux run echo ok)" "$(zygotes)"
# A zygote that cannot fork (its cgroup allows no new process): the job
# fails with an exec exception that says why, the zygote lives on, and jobs
# run again once it can fork. cgroup v1 (pids hierarchy) or v2 (pids
# controller at the root).
freeze_forks() {
    cgroot=/sys/fs/cgroup/pids
    if [ ! -w "$cgroot/cgroup.procs" ]; then
        cgroot=/sys/fs/cgroup
        grep -qw pids $cgroot/cgroup.controllers && echo +pids >$cgroot/cgroup.subtree_control || return 1
    fi
    cgdir=$cgroot/flux-t0014-$$
    mkdir "$cgdir" && echo "$#" >"$cgdir/pids.max" || return 1
    for p in "$@"; do echo "$p" >"$cgdir/cgroup.procs" || return 1; done
}
thaw_forks() {
    for p in $(cat "$cgdir/cgroup.procs"); do echo "$p" >"$cgroot/cgroup.procs"; done
    rmdir "$cgdir"
}
zp=$(zygote_pids)
ok "put the zygotes in a cgroup that allows no new process" freeze_forks $zp
not_ok "a job whose shell cannot be forked fails" flux run true
output_has "...with an exec exception that says why" \
    'exception type="exec" .*cannot start job shell on rank [01]: .*Resource temporarily unavailable' \
    flux job eventlog "$(flux job last)"
output_is "...and the zygotes live on" "$(echo $zp | xargs -n1 | sort | xargs)" \
    bash -c "$(declare -f zygote_pids); zygote_pids | sort | xargs"
ok "release the zygotes" thaw_forks
output_is "...and the next job runs, from the same zygotes" "ok $zp" \
    bash -c "echo \$(flux run echo ok) \$($(declare -f zygote_pids); zygote_pids | xargs)"

# A shell's parent is the zygote, not the broker; with a job too large for
# one zygote packet (its jobspec carries the submitter's 300 KB environment),
# the shell is spawned by the broker instead.
shell_parent() { flux run sh -c 'ps -o ppid= -p $PPID' | tr -d ' '; }
not_ok "a job shell's parent is the zygote" test "$(shell_parent)" = "$(flux getattr broker.pid)"
big=$(head -c 100000 /dev/zero | tr '\0' x)
output_is "a jobspec too large for the zygote: the broker spawns the shell" "same" \
    env -u FLUX_URI BIG1="$big" BIG2="$big" BIG3="$big" flux start bash -c \
    "$(declare -f shell_parent); test \$(shell_parent) = \$(flux getattr broker.pid) && echo same"
output_is "FLUX_EXEC_NO_ZYGOTE: shells are spawned, no zygote" "ok 0" \
    env -u FLUX_URI FLUX_EXEC_NO_ZYGOTE=1 flux start bash -c \
    'echo $(flux run echo ok) $(ps -o args= --ppid $(flux getattr broker.pid) | grep -c "^[^ ]*/flux-shell --zygote")'
# A shell that cannot set up its job (here: an output file it cannot
# open) fails the job, whether forked by the zygote or spawned.
for how in zygote spawned; do
    env=""; [ $how = spawned ] && env="FLUX_EXEC_NO_ZYGOTE=1"
    output_is "$how shell whose setup fails: the job fails with exit code 1" "1 F" \
        env -u FLUX_URI $env flux start bash -c \
        'flux run --output=/nonexistent/dir/out true 2>/dev/null; echo $? $(flux jobs -a -n -o "{status_abbrev}")'
done
# A shell named by FLUX_SHELL_PATH is started as `SHELL JOBID` (no
# --rank=N, that is for our own shell): flux-shell behind a wrapper then asks
# its broker for its rank, and a job on both brokers still runs.
real_shell=$(cd "$(dirname "$(command -v flux)")/../libexec/flux" && pwd)/flux-shell
printf '#!/bin/sh\necho "$#" >>"%s/shell-argc"\nexec "%s" "$@"\n' "$PWD" "$real_shell" >wrap-shell
chmod +x wrap-shell
output_is "FLUX_SHELL_PATH: the shell runs on each rank of a 2-node job" "0: 0 1: 1" \
    env -u FLUX_URI FLUX_SHELL_PATH="$PWD/wrap-shell" flux start --test-size=2 bash -c \
    'flux run -N2 -n2 --label-io printenv FLUX_TASK_RANK | sort | xargs'
output_is "...started with the job id only" "1 1" bash -c 'xargs <shell-argc'
# flux-shell's own arguments: a malformed rank or job id is refused, exit 1.
for bad in "--rank=" "--rank=x" "--rank=-1" "--rank=1x"; do
    exit_code 1 "flux-shell JOBID $bad is refused" "$real_shell" 1 "$bad"
    output_has "...naming the bad rank" "flux-shell: $bad: invalid rank" "$real_shell" 1 "$bad"
done
output_has "flux-shell with a malformed job id says so" "flux-shell: nojob: invalid job id" "$real_shell" nojob

done_testing
