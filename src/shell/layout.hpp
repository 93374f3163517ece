// Where a job's tasks go: how many tasks each shell (one per rank of R)
// runs and which global task ranks they are, and the cpus a core set
// stands for on this machine.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <flux/error.hpp>
#include <flux/idset.hpp>

namespace flux::shell {

/// Per-shell task counts in rank order of R. `slots` holds each shell's slot
/// count; tasks_per_slot > 0 gives that many tasks per slot, otherwise
/// `ntasks` tasks are spread over all slots in order, as evenly as possible
/// (the first slots get one more). Block mapping: shell i runs tasks
/// first[i] .. first[i] + count[i] - 1.
struct TaskMap {
    std::vector<std::uint32_t> count;
    std::vector<std::uint32_t> first;
    std::uint32_t total = 0;

    static TaskMap block(const std::vector<std::uint32_t>& slots, std::uint32_t tasks_per_slot, std::uint32_t ntasks);
    /// RFC 13 PMI_process_mapping: "(vector,(node,nnodes,ppn),...)".
    std::string pmi_process_mapping() const;
};

/// OS cpu ids of each core of this machine, in hwloc's logical core order
/// (cores sorted by package and first cpu), read from /sys once per process
/// (the zygote reads it before it forks any shell). Empty on error.
const std::vector<std::vector<int>>& core_cpus();

/// The cpus of the given core ids; cores this machine lacks are skipped.
std::vector<int> cpus_of(const IdSet& cores, const std::vector<std::vector<int>>& map);

}  // namespace flux::shell
