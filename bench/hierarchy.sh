#!/bin/bash
# Child instances (issue 5's figures). Prints figures; never fails on time.
#   bash bench/hierarchy.sh [BUILD_DIR] [N]     (N: jobs in the throughput run, default 10000)
#  (a) flux alloc -n1 true, submit to exit: median of 20 (size 1)
#  (b) flux batch -n1: submit -> child ready (its URI memo) -> job clean, median of 10
#  (c) depth 3: flux alloc -n1 flux alloc -n1 flux alloc -n1 true, median of 10
#  (d) flux alloc -N4 true in a 4-broker instance, median of 10
#  (e) N true jobs: flat (flux submit --cc; flux queue drain) vs the same jobs
#      split over 2 child instances (flux batch -n1 each running half)
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
N=${2:-10000}
export PATH="$BUILD/bin:$PATH"
export FLUX_F58_FORCE_ASCII=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# median_ms CMD...: run CMD $REPS times, print "median X ms (min, max)".
cat >median.sh <<'EOT'
reps=$1; shift
for i in $(seq "$reps"); do
    s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000 ))
done | sort -n | awk '{a[NR]=$1} END {m = NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2;
    printf "median %.1f ms (min %.1f, max %.1f, n=%d)\n", m/1000, a[1]/1000, a[NR]/1000, NR}'
EOT

echo "== (a) flux alloc -n1 true (size 1)"
flux start bash median.sh 20 flux alloc -n1 true

echo "== (b) flux batch -n1: submit, child ready, job clean (size 1)"
cat >batch.sh <<'EOT'
for i in $(seq 10); do
    s=$(date +%s%N)
    id=$(flux batch -n1 --output=none --wrap true)
    sub=$(date +%s%N)
    flux job wait-event -t 60 "$id" memo >/dev/null
    ready=$(date +%s%N)
    flux job wait-event -t 60 "$id" clean >/dev/null
    clean=$(date +%s%N)
    echo $(( (sub - s) / 1000 )) $(( (ready - s) / 1000 )) $(( (clean - s) / 1000 ))
done >times
med() { cut -d' ' -f"$1" times | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'; }
echo "submit median $(med 1) ms, ready median $(med 2) ms, clean median $(med 3) ms (n=$(wc -l <times))"
EOT
flux start bash batch.sh

echo "== (c) depth 3: flux alloc -n1 flux alloc -n1 flux alloc -n1 true (size 1)"
flux start bash median.sh 10 flux alloc -n1 flux alloc -n1 flux alloc -n1 true

echo "== (d) flux alloc -N4 true (size 4)"
flux start --test-size=4 bash median.sh 10 flux alloc -N4 true

echo "== (e) $N true jobs: flat vs over 2 child instances (size 1, 2 cores)"
cat >flat.sh <<'EOT'
s=$(date +%s.%N)
flux submit --cc=1-$1 --quiet true
flux queue drain
e=$(date +%s.%N)
echo "$s $e"
EOT
cat >child.sh <<'EOT'
#!/bin/sh
flux submit --cc=1-$1 --quiet true
flux queue drain
EOT
chmod +x child.sh
cat >hier.sh <<'EOT'
half=$(( $1 / 2 ))
s=$(date +%s.%N)
flux batch -n1 --output=none ./child.sh $half >/dev/null
flux batch -n1 --output=none ./child.sh $(( $1 - half )) >/dev/null
flux queue drain
e=$(date +%s.%N)
echo "$s $e"
EOT
read -r fs fe < <(flux start bash flat.sh "$N" | tail -1)
read -r hs he < <(flux start bash hier.sh "$N" | tail -1)
awk -v n="$N" -v fs="$fs" -v fe="$fe" -v hs="$hs" -v he="$he" 'BEGIN {
    f = n / (fe - fs); h = n / (he - hs);
    printf "flat: %.1f s (%.0f jobs/s)   hierarchical: %.1f s (%.0f jobs/s)   ratio %.2f\n",
        fe - fs, f, he - hs, h, h / f }'
