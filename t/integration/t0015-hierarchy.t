#!/bin/bash
# Child instances: flux batch and flux alloc start brokers on exactly their
# allocation; the seed tutorial end to end with an MPICH program; attributes,
# directives, exit status, stdin, flux uri/proxy, nesting depth, teardown on
# cancel and when the parent dies, and refusals of bad input.
. "$(dirname "$0")/lib.sh"
if [ -z "${FLUX_TEST_INSIDE:-}" ]; then
    conf=$(mktemp -d)
    cat >"$conf/resource.toml" <<'EOF'
[[resource.config]]
hosts = "rzalastor[6-7]"
cores = "0-19"
EOF
    export FLUX_TEST_CONF=$conf
fi
test_under_flux 2 --test-hosts='rzalastor[6-7]' -c "$FLUX_TEST_CONF"
cd "$(mktemp -d)" || exit 1

running() {  # the parent's running jobs as "NAME NNODES"
    flux jobs -n -o '{name} {nnodes}' | sort | xargs
}

# --- the seed tutorial ------------------------------------------------------
if command -v mpicc >/dev/null; then
    mpicc -o mpi_hellosleep "$SRCDIR/../mpi/hellosleep.c"
else
    not_ok "mpicc is installed (make deps installs mpich)" true
fi
s1=$(flux submit -n1 sleep 10m)
s2=$(flux submit -n1 sleep 10m)
flux job wait-event -t 30 "$s1" start >/dev/null
flux job wait-event -t 30 "$s2" start >/dev/null
output_is "the two sleeps land one per node" "rzalastor6 rzalastor7" \
    bash -c "flux jobs -n -o '{nodelist}' $s1 $s2 | sort | xargs"
tutorial() {  # the tutorial's batch script, as a here-document on flux batch's stdin
    flux batch "$@" <<-'END_OF_SCRIPT'
	#!/bin/sh
	date
	flux resource list
	flux run -n4 ./mpi_hellosleep &
	flux run -n4 ./mpi_hellosleep &
	sleep 3
	flux jobs
	wait
	echo 'job complete'
END_OF_SCRIPT
}
b1=$(tutorial -N 2 -n 8)
b2=$(tutorial -N 1 -n 8)
ok "flux batch printed two job ids" test -n "$b1" -a -n "$b2"
wait_until "both batch jobs run" 30 bash -c "flux jobs -n -o '{state}' $b1 $b2 | grep -c RUN | grep -qx 2"
output_is "parent: both batch jobs (2 nodes, 1 node) run alongside the sleeps" "batch 1 batch 2 sleep 1 sleep 1" running
ok "both batch jobs finish" bash -c "flux job wait-event -t 60 $b1 clean && flux job wait-event -t 60 $b2 clean"
exit_code 0 "batch 1 exit status is its script's (0)" flux job status "$b1"
out1="flux-$b1.out"
out2="flux-$b2.out"
ok "default output file flux-{{id}}.out in the submit directory" test -s "$out1" -a -s "$out2"
output_has "child 1 owns 2 nodes, 8 cores, rzalastor[6-7]" \
    '^ +free +2 +8 +0 rzalastor\[6-7\]$' cat "$out1"
output_has "child 2 owns 1 node, 8 cores" '^ +free +1 +8 +0 rzalastor[67]$' cat "$out2"
output_is "child 1's flux jobs lists the two 4-task MPI jobs on 2 nodes" "2" \
    bash -c "grep -cE 'mpi_hell.* +R +4 +2 ' $out1"
output_is "child 2's flux jobs lists the two 4-task MPI jobs on 1 node" "2" \
    bash -c "grep -cE 'mpi_hell.* +R +4 +1 ' $out2"
output_is "MPI output: every rank of both jobs in child 1 saw size 4" "8" bash -c "grep -c 'of 4 on' $out1"
output_is "MPI output: ranks passed the barrier (child 2)" "2" bash -c "grep -c 'all 4 ranks done' $out2"
output_is "both scripts ran to the end" "job complete
job complete" bash -c "tail -n1 -q $out1 $out2"
ok "cancel the sleeps" flux cancel "$s1" "$s2"
output_is "jobs inside children never reached the parent's queue" "4" bash -c 'flux jobs -a -n | wc -l'

# --- flux batch -------------------------------------------------------------
cat >script.sh <<'EOF'
#!/bin/sh
# flux: -N1 -n2
# flux: --job-name=from-directive  # a comment
echo "args: $*"
echo "level $(flux getattr instance-level) size $(flux getattr size) cores $(flux resource list -no {ncores} -s free)"
echo "jobid $(flux getattr jobid)"
echo "path $(flux getattr jobid-path)"
echo "parent level $(FLUX_URI=$(flux getattr parent-uri) flux getattr instance-level)"
flux resource R | grep -o '"rank":"[^"]*"'
exit 3
EOF
id=$(flux batch --output=out.txt script.sh a1 'b 2')
flux job wait-event -t 60 "$id" clean >/dev/null
exit_code 3 "a batch job's exit status is its script's" flux job status "$id"
output_is "script arguments are passed" "args: a1 b 2" head -n1 out.txt
output_is "directives set the layout (-N1 -n2): level 1, one broker, 2 cores" "level 1 size 1 cores 2" \
    sed -n 2p out.txt
output_is "jobid attribute is the job's id in the parent" "jobid $id" sed -n 3p out.txt
output_is "jobid-path" "path /$id" sed -n 4p out.txt
output_is "parent-uri reaches the parent (level 0)" "parent level 0" sed -n 5p out.txt
output_is "the child's R is re-ranked to 0" '"rank":"0"' sed -n 6p out.txt
output_is "directives name the job" "from-directive" flux jobs -n -o '{name}' "$id"
id=$(flux batch --job-name=cli -n1 --output=out2.txt script.sh)
flux job wait-event -t 60 "$id" clean >/dev/null
output_is "the command line overrides directives" "cli level 1 size 1 cores 1" \
    bash -c "echo \$(flux jobs -n -o '{name}' $id) \$(sed -n 2p out2.txt | cut -d' ' -f1-6)"
id=$(printf '#!/bin/sh\necho from stdin\n' | flux batch -n1 --output=out3.txt)
flux job wait-event -t 60 "$id" clean >/dev/null
output_is "script on stdin" "from stdin" cat out3.txt
output_is "stdin script is named batch" "batch" flux jobs -n -o '{name}' "$id"
id=$(flux batch -n1 --output=out4.txt --wrap echo wrapped 'two words')
flux job wait-event -t 60 "$id" clean >/dev/null
output_is "--wrap" "wrapped two words" cat out4.txt
id=$(flux batch -N2 --conf=tbon.fanout=1 --output=out5.txt --wrap flux getattr tbon.fanout)
flux job wait-event -t 60 "$id" clean >/dev/null
output_is "--conf reaches the child's brokers; -N alone takes whole nodes" "1" cat out5.txt
output_is "...which are exclusive (all 40 cores)" "40" flux jobs -n -o '{ncores}' "$id"
printf 'echo no shebang\n' >noshebang.sh
output_has "a script without #! is refused" "does not appear to start with '#!'" flux batch -n1 noshebang.sh
exit_code 1 "...with exit code 1" flux batch -n1 noshebang.sh
output_has "an unknown --conf key is refused" "unknown configuration key 'resource.bogus'" \
    flux batch -n1 --conf=resource.bogus=1 script.sh
output_has "an unknown --conf table is refused" "unknown configuration table 'nosuch'" \
    flux batch -n1 --conf=nosuch.key=1 script.sh
output_has "an allocation larger than the instance is refused" "unsatisfiable" flux batch -N3 --wrap true
output_has "neither -n nor -N" "Number of slots to allocate must be specified" flux batch --wrap true
output_has "a child broker that cannot reach its enclosing instance says so" \
    "flux-broker: cannot reach the enclosing instance at local:///nonexistent/local" \
    flux run sh -c 'FLUX_URI=local:///nonexistent/local exec flux broker true'
output_has "...and one whose job has no R there" "flux-broker: cannot get job f1's R from the enclosing instance" \
    flux run sh -c 'FLUX_JOB_ID=f1 exec flux broker true'
exit_code 1 "...fails the job" flux run sh -c 'FLUX_JOB_ID=f1 exec flux broker true'
printf '#!/bin/sh\necho x\n# flux: -N1\n' >late.sh
output_has "a directive after the script started is refused" "late.sh: line 3: directive after the script's code began" \
    flux batch late.sh

# GPUs follow the allocation: a separate 1-broker instance configured with 2.
cat >gpus.toml <<EOF
[[resource.config]]
hosts = "$(hostname)"
cores = "0-3"
gpus = "0-1"
EOF
output_is "GPUs follow: -g1 gives the child 1 GPU, and CUDA_VISIBLE_DEVICES inside" "1 0" \
    flux start -c gpus.toml flux alloc -n1 -g1 sh -c \
    'echo $(flux resource list -no {ngpus} -s free) $(flux run -g1 printenv CUDA_VISIBLE_DEVICES)'

# --- flux alloc -------------------------------------------------------------
exit_code 7 "flux alloc exits with its command's status" flux alloc -n1 sh -c 'exit 7'
output_is "flux alloc forwards stdin to the command" "hello child" bash -c 'echo hello child | flux alloc -n1 cat'
# From a terminal (script(1) provides one), the command gets a pty of its own.
# script's stdin is a fifo held open until it is done: at end of input,
# script types an end-of-file character that would be echoed as "^@".
on_terminal() {
    local fifo rc
    fifo=$(mktemp -u)
    mkfifo "$fifo"
    exec 9<>"$fifo"
    script -qec "$1" /dev/null <"$fifo"
    rc=$?
    exec 9>&-
    rm -f "$fifo"
    return $rc
}
output_has "flux alloc from a terminal runs the command on a terminal" "^on-a-tty 24 80" \
    on_terminal "flux alloc -n1 sh -c 'test -t 0 && test -t 1 && echo on-a-tty \$(stty size)'"
exit_code 5 "...an interactive shell there reads what we type" \
    bash -c 'printf "exit 5\n" | script -qec "flux alloc -n1 sh -i" /dev/null'
output_is "depth: three nested allocs" "3" flux alloc -n1 flux alloc -n1 flux alloc -n1 flux getattr instance-level
# The alloc's command waits for the batch job inside (flux queue drain):
# an instance cancels what is left when its initial program exits.
cat >inner.sh <<EOF
#!/bin/sh
flux batch -n1 --output=$PWD/deep.txt --wrap sh -c 'echo \$(flux getattr instance-level):batch-in-alloc'
flux queue drain
EOF
chmod +x inner.sh
output_is "batch inside alloc inside batch" "3:batch-in-alloc" bash -c '
    id=$(flux batch -n1 --output=deep0.txt --wrap flux alloc -n1 ./inner.sh)
    flux job wait-event -t 60 $id clean >/dev/null && cat deep.txt'
sl=$(flux submit -n1 sleep 10m)
flux job wait-event -t 30 "$sl" start >/dev/null
output_has "flux proxy to a job that is not an instance" "does not appear to be a Flux instance" flux proxy "$sl" true
exit_code 1 "...fails" flux proxy "$sl" true
flux cancel "$sl"
bg=$(flux alloc --bg -N2)
ok "flux alloc --bg prints the id of a running instance" bash -c "flux jobs -n -o '{state}' $bg | grep -qx RUN"
output_is "its name is flux" "flux" flux jobs -n -o '{name}' "$bg"
output_has "flux uri: ssh:// by default" "^ssh://rzalastor6/" flux uri "$bg"
output_has "flux uri --local" "^local:///" flux uri --local "$bg"
output_has "flux uri JOBID?local" "^local:///" flux uri "$bg?local"
output_is "flux proxy runs a command in the child" "1 2" \
    bash -c "echo \$(flux proxy $bg flux getattr instance-level) \$(flux proxy $bg flux getattr size)"
inner=$(flux proxy "$bg" flux submit -N2 -n2 sleep 613)
flux proxy "$bg" flux job wait-event -t 30 "$inner" start >/dev/null
output_is "a job inside runs only in the child (parent: one job)" "flux 2" running
g2=$(flux proxy "$bg" flux alloc --bg -n1)
output_is "flux jobs -R lists each instance's jobs under its id path" \
    "$(printf 'flux\n\n%s:\nflux\nsleep\n\n%s/%s:' "$bg" "$bg" "$g2")" flux jobs -R -n -o '{name}'
output_is "flux jobs -R -L1 stops one level down" "$(printf 'flux\n\n%s:\nflux\nsleep' "$bg")" \
    flux jobs -R -L1 -n -o '{name}'
output_is "flux pstree shows the jobs inside running instances" \
    "$(printf '.\n\u2514\u2500\u2500 flux\n    \u251c\u2500\u2500 flux\n    \u2514\u2500\u2500 sleep')" flux pstree
output_is "flux uri resolves an instance inside an instance (ID/ID?local)" \
    "$(flux proxy "$bg" flux uri --local "$g2")" flux uri "$bg/$g2?local"
output_has "flux proxy to an unknown job" "not found" flux proxy f1111111 true
t0=$(date +%s)
ok "cancel the alloc --bg instance" flux cancel "$bg"
ok "...it ends within seconds" flux job wait-event -t 20 "$bg" clean
ok "...and leaves nothing behind" wait_gone "sleep 613"
output_has "flux proxy to an inactive job" "is not running" flux proxy "$bg" true

# --- a child whose parent dies ------------------------------------------------
bg=$(flux alloc --bg -n2)
g=$(flux proxy "$bg" flux alloc --bg -n1)
flux proxy "$bg" flux proxy "$g" flux submit sleep 997 >/dev/null
wait_until "grandchild job runs" 30 pgrep -f 'sleep 997'
pid=$(flux proxy "$bg" flux getattr broker.pid)
ok "kill -9 the child's broker" kill -9 "$pid"
ok "the grandchild instance and its job go away" wait_gone 'sleep 997'
ok "the child's job ends" flux job wait-event -t 30 "$bg" clean

done_testing
