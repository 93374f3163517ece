#!/bin/bash
# The resource inventory in detail: `flux resource list` lines per property
# set and per-core allocation, allocated and draining nodes in `status`,
# verification of configured resources against the hardware, and GPU
# discovery (from an hwloc XML topology with GPUs).
. "$(dirname "$0")/lib.sh"
if [ -z "${FLUX_TEST_INSIDE:-}" ]; then
    conf=$(mktemp -d)
    cat >"$conf/resource.toml" <<'EOT'
[[resource.config]]
hosts = "rzalastor[6-9]"
cores = "0-19"
[[resource.config]]
hosts = "rzalastor[8-9]"
gpus = "0-1"
properties = ["big"]
EOT
    export TEST_CONF=$conf
fi
test_under_flux 4 --test-hosts='rzalastor[6-9]' -c "$TEST_CONF"

# A separate instance for one command, outside this one.
other() { env -u FLUX_URI flux start "$@"; }

output_is "list: one line per state and property set" "$(cat <<'EOT'
     STATE PROPERTIES NNODES   NCORES    NGPUS NODELIST
      free                 2       40        0 rzalastor[6-7]
      free big             2       40        4 rzalastor[8-9]
 allocated                 0        0        0
      down                 0        0        0
EOT
)" flux resource list
output_is "list: a format without state or properties sums the states" "4 80 4" \
    flux resource list -n -o '{nnodes} {ncores} {ngpus}'
output_is "list: properties of one line" "big rzalastor[8-9]" flux resource list -n -s free -i 2-3 -o '{properties} {nodelist}'

id=$(flux submit -N1 -n1 sleep 300)
ok "a one-core job starts" flux job wait-event -t 30 "$id" start
output_is "list: allocation is per core" "1 1" flux resource list -n -s allocated -o '{nnodes} {ncores}'
output_is "list: the node's other cores stay free" "79" flux resource list -n -s free -o '{ncores}'
rank=$(flux resource list -n -s allocated -o '{ranks}')
output_is "status: the allocated node is still avail, and allocated" "$(printf 'avail 4\nallocated 1')" \
    flux resource status -n -s avail,allocated -o '{state} {nnodes}'
ok "drain the node that runs the job" flux resource drain "$rank" maintenance
output_is "status: it is draining while the job runs" "draining $rank" flux resource status -n --skip-empty -s drain -o '{state} {ranks}'
output_is "drain listing says draining, with the reason" "draining maintenance" flux resource drain -n -o '{state} {reason}'
output_is "list: a draining node is down to the scheduler" "1 20" flux resource list -n -s down -o '{nnodes} {ncores}'
ok "cancel the job" flux cancel "$id"
ok "...it ends" flux job wait-event -t 30 "$id" clean
output_is "status: drained once the job is gone" "drained $rank" flux resource status -n --skip-empty -s drain -o '{state} {ranks}'
ok "undrain" flux resource undrain "$rank"
output_is "list: all free again" "4 80" flux resource list -n -s free -o '{nnodes} {ncores}'

# Verification of configured resources against the hardware.
host=$(hostname)
vconf=$(mktemp -d)
printf '[[resource.config]]\nhosts = "%s"\ncores = "0-1023"\n' "$host" >"$vconf/r.toml"
output_is "verify: by default a real node missing configured cores stays in service" "1" \
    other -c "$vconf" flux resource list -n -s free -o '{nnodes}'
output_has "...with one warning in the broker log, saying which" \
    "resource\.warning.*rank 0 \($host\) is missing configured core [0-9]+-1023 \(it has core 0(-[0-9]+)?\)" \
    other -c "$vconf" flux dmesg
output_has "verify = true drains it, giving the reason" \
    "^drained rank 0 \($host\) is missing configured core [0-9]+-1023 \(it has core 0(-[0-9]+)?\)$" \
    other -c "$vconf" --conf=resource.verify=true flux resource drain -n -o '{state} {reason}'
output_is "noverify = true: no warning" "" \
    other -c "$vconf" --conf=resource.noverify=true sh -c 'flux dmesg | grep "resource.warning"'
output_is "made-up hosts (--test-hosts) are not checked" "" \
    other --test-size=2 --test-hosts='rzalastor[6-7]' -c "$TEST_CONF" --conf=resource.exclude='rzalastor[8-9]' \
    sh -c 'flux dmesg | grep "verify"'
printf '[[resource.config]]\nhosts = "fake[0-1]"\ncores = "0-19"\n' >"$vconf/r.toml"
output_is "verify = true checks every rank, each from its own broker" "2" \
    other --test-size=2 --test-hosts='fake[0-1]' -c "$vconf" --conf=resource.verify=true \
    sh -c 'timeout 20 sh -c "until flux resource status -n -s drained -o {nnodes} | grep -qx 2; do sleep 0.05; done";
           flux resource status -n -s drained -o {nnodes}'
exit_code 1 "verify: a value that is not a boolean is refused" other -c "$vconf" --conf=resource.verify=1 true
output_has "...saying so" "verify must be true or false" other -c "$vconf" --conf=resource.verify=1 true
rm -rf "$vconf"

# GPUs, from an hwloc topology file: two NVIDIA GPUs per node (each seen
# by hwloc as a CUDA and an NVML device), a display and a network device.
export HWLOC_XMLFILE=$SRCDIR/data/gpu-node.xml
output_is "GPU discovery: 2 per node, display and network devices left out" "2 Nodes, 4 Cores, 4 GPUs" \
    other --test-size=2 flux resource info
output_is "a job asking for one GPU gets GPU 0" "0" other --test-size=2 flux run -N1 -n1 -g1 printenv CUDA_VISIBLE_DEVICES
output_is "two nodes with two GPUs each" "$(printf '0,1\n0,1')" \
    other --test-size=2 flux run -N2 -n2 -g2 printenv CUDA_VISIBLE_DEVICES
exit_code 1 "a job asking for more GPUs than a node has is refused" other --test-size=2 flux run -n1 -g3 true
unset HWLOC_XMLFILE
rm -f "$TEST_CONF"/*.toml
rmdir "$TEST_CONF" 2>/dev/null
done_testing
