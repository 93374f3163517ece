#!/bin/bash
# Job throughput and latency (issue 4's figures). Prints figures; never
# fails on time.
#   bash bench/jobs.sh [BUILD_DIR] [N...]   (default N: 1000 10000)
#  (a) flux submit --cc=1-N --quiet true, then flux queue drain, at sizes 1, 4
#  (b) flux run true latency, median of 20 in a row
#  (c) rank-0 broker RSS after the N = 10000 run
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
shift || true
SIZES=("$@")
[ ${#SIZES[@]} -eq 0 ] && SIZES=(1000 10000)
export PATH="$BUILD/bin:$PATH"
export FLUX_F58_FORCE_ASCII=1

inner=$(mktemp)
trap 'rm -f "$inner"' EXIT
cat >"$inner" <<'EOT'
now() { date +%s.%N; }
n=$1
s=$(now)
flux submit --cc=1-$n --quiet true
m=$(now)
flux queue drain
e=$(now)
rss=$(ps -o rss= -p "$(flux getattr broker.pid)")
echo "$n $s $m $e $rss"
EOT

echo "== throughput: flux submit --cc=1-N --quiet true; flux queue drain"
printf "%-5s %-7s %12s %12s %14s\n" size N "submit/s" "end-to-end/s" "rank0 RSS MiB"
for size in 1 4; do
    for n in "${SIZES[@]}"; do
        read -r n s m e rss < <(flux start --test-size=$size bash "$inner" "$n" | tail -1)
        awk -v size=$size -v n=$n -v s=$s -v m=$m -v e=$e -v rss=$rss 'BEGIN {
            printf "%-5d %-7d %12.0f %12.0f %14.1f\n", size, n, n/(m-s), n/(e-s), rss/1024 }'
    done
done

echo
echo "== flux run true latency (median of 20 in a row, size 1)"
flux start bash -c '
  for i in $(seq 20); do
    s=$(date +%s%N); flux run true; e=$(date +%s%N); echo $(( (e - s) / 1000 ))
  done | sort -n | awk "{a[NR]=\$1} END {printf \"median %.1f ms (min %.1f, max %.1f)\n\", a[10]/1000, a[1]/1000, a[NR]/1000}"'
