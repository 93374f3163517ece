#!/bin/bash
# `flux resource list` on an instance configured with 16,384 nodes x 64
# cores (median of 20 runs), plus the R operations benchmark.
#   bash bench/resource-list.sh [BUILD_DIR]
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
export PATH="$BUILD/bin:$PATH"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 - "$dir/R.json" <<'PY'
import json, sys
R = {"version": 1, "execution": {"R_lite": [{"rank": "0-16383", "children": {"core": "0-63"}}],
     "nodelist": ["node[0-16383]"], "starttime": 0, "expiration": 0}}
json.dump(R, open(sys.argv[1], "w"))
PY
printf '[resource]\npath = "%s"\n' "$dir/R.json" >"$dir/conf.toml"
"$BUILD/bench/bench-rlist"
echo
echo "== flux resource list, 16384 nodes x 64 cores configured (1 broker)"
flux start -c "$dir/conf.toml" bash -c '
  flux resource info
  for i in $(seq 20); do
    s=$(date +%s%N); flux resource list >/dev/null; e=$(date +%s%N)
    echo $(( (e - s) / 1000 ))
  done | sort -n | awk "{a[NR]=\$1} END {printf \"median %.1f ms (min %.1f, max %.1f)\n\", a[int((NR+1)/2)]/1000, a[1]/1000, a[NR]/1000}"
  flux resource list
'
