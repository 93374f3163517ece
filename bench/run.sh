#!/bin/bash
# Foundation benchmarks: RPC latency and rate, instance start-up time, idle
# broker memory. Prints figures; never fails on time.
#   bash bench/run.sh [BUILD_DIR]
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
export PATH="$BUILD/bin:$PATH"
RPC="$BUILD/bench/bench-rpc"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }

echo "== RPC (16-broker instance, fanout 2: rank 15 is 3 hops below rank 0)"
flux start --test-size=16 sh -c "
  $RPC -r 0 -n 50000 -w 256
  $RPC -r 15 -n 20000 -w 256
"

echo
echo "== flux start --test-size=N true (median of 9 runs)"
for n in 1 4 16 64; do
    runs=9
    [ $n -ge 64 ] && runs=5
    t=$(for i in $(seq $runs); do
        s=$(now); flux start --test-size=$n true; e=$(now)
        echo "$e - $s" | bc -l
    done | median)
    printf "size %-4d %.3f s\n" $n "$t"
done
s=$(now); flux start --test-size=256 true; e=$(now)
printf "size %-4d %.3f s (one run: start and stop)\n" 256 "$(echo "$e - $s" | bc -l)"

echo
echo "== idle broker memory (16-broker instance, after 1 s): RSS, and PSS (shared library pages split among the brokers)"
flux start --test-size=16 sh -c '
  sleep 1
  for r in 0 1 15; do
    pid=$(flux exec -r $r flux getattr broker.pid)
    kb=$(awk "/VmRSS/ {print \$2}" /proc/$pid/status)
    pss=$(awk "/^Pss:/ {print \$2}" /proc/$pid/smaps_rollup)
    printf "rank %-3s RSS %6.1f MiB  PSS %6.1f MiB\n" $r $(echo "$kb / 1024" | bc -l) $(echo "$pss / 1024" | bc -l)
  done
'
