#!/bin/bash
# Jobs across 4 brokers (2 cores each): placement (spreading, -N, -x),
# task layout and ranks, a real MPICH program over PMI-1, cancel of a
# multi-node job, and an unsatisfiable node count.
. "$(dirname "$0")/lib.sh"
test_under_flux 4
cd "$(mktemp -d)" || exit 1

ranks_of() {  # the broker ranks a job's tasks ran on, sorted
    flux run "$@" sh -c 'flux getattr rank' | sort -n | xargs
}
output_is "-N2 -n4: two tasks on each of two nodes" "0 0 1 1" ranks_of -N2 -n4
output_is "-N4: one task per node" "0 1 2 3" ranks_of -N4
output_is "-n4 spreads over idle nodes (worst-fit)" "0 1 2 3" ranks_of -n4
output_is "-n8 fills every core" "0 0 1 1 2 2 3 3" ranks_of -n8
output_is "task ranks are global, in block order" "0:0 1:0 2:1 3:1" \
    bash -c 'flux run -N2 -n4 sh -c "echo \$FLUX_TASK_RANK:\$(flux getattr rank)" | sort | xargs'
output_is "local ids restart on each node" "0 0 1 1" \
    bash -c 'flux run -N2 -n4 printenv FLUX_TASK_LOCAL_ID | sort | xargs'
output_is "FLUX_JOB_NNODES" "2 2" bash -c 'flux run -N2 printenv FLUX_JOB_NNODES | xargs'
output_is "--tasks-per-node=2 on 2 nodes: 4 tasks, 2 per node" "0:0 1:0 2:1 3:1" \
    bash -c 'flux run -N2 --tasks-per-node=2 sh -c "echo \$FLUX_TASK_RANK:\$(flux getattr rank)" | sort | xargs'
output_is "--tasks-per-core=1 with --cores=4: a task per core" "4" \
    bash -c 'flux run --cores=4 --tasks-per-core=1 printenv FLUX_JOB_SIZE | sort -u'
output_has "-x: an exclusive node gets all its cores" '"core":"0-1"' \
    bash -c 'id=$(flux submit -N1 -x true); flux job wait-event -t 30 $id clean >/dev/null; flux job info $id R'
a=$(flux submit -n1 sleep 300)
b=$(flux submit -n1 sleep 300)
flux job wait-event -t 30 "$a" start >/dev/null
flux job wait-event -t 30 "$b" start >/dev/null
output_is "two 1-core jobs land on two different nodes" "2" \
    bash -c "(flux job info $a R; echo; flux job info $b R) | grep -o '\"rank\":\"[0-9]*\"' | sort -u | wc -l"
ok "cancel both" flux cancel "$a" "$b"
ok "both end" bash -c "flux job wait-event -t 30 $a clean && flux job wait-event -t 30 $b clean"
id=$(flux submit -N4 sleep 300)
flux job wait-event -t 30 "$id" start >/dev/null
ok "cancel a 4-node job" flux cancel "$id"
exit_code 143 "its tasks on every node got SIGTERM" flux job attach "$id"
# Each shell tells job-exec its exit status as it exits; the job's is the
# largest.
exit_code 7 "-N4: the job's exit code is the largest of its shells'" \
    flux run -N4 sh -c 'exit $((FLUX_TASK_RANK + 4))'
output_has "more nodes than the instance is unsatisfiable" 'unsatisfiable request' flux run -N5 true

if command -v mpicc >/dev/null; then
    mpicc -o mpi_hello "$SRCDIR/../mpi/hello.c"
    output_is "MPICH: 4 ranks on 2 brokers see size 4 and pass a token around" \
        "$(printf 'hello from rank 0 of 4\nhello from rank 1 of 4\nhello from rank 2 of 4\nhello from rank 3 of 4\nring token 45 (expected 45)')" \
        bash -c 'flux run -N2 -n4 ./mpi_hello | sort'
    output_is "MPICH: 8 ranks on 4 brokers" "8" bash -c 'flux run -N4 -n8 ./mpi_hello | grep -c "of 8"'
else
    not_ok "mpicc is installed (make deps installs mpich)" true
fi

done_testing
