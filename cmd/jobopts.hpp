// The job submission options shared by flux run, submit, bulksubmit, batch
// and alloc (flux-core's flux-submit(1) options), and the jobspec they
// build.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include <flux/error.hpp>

namespace CLI {
class App;
}

namespace flux::cmd {

struct JobOptions {
    std::optional<int> ntasks, cores_per_task, gpus_per_task, nodes, tasks_per_node, tasks_per_core, cores,
        gpus_per_node;
    bool exclusive = false;
    std::string time_limit, job_name, cwd, queue, output, error, input, flags, begin_time;
    std::vector<std::string> env, env_remove, env_file, setopt, setattr, dependency, rlimit;
    int urgency = 16;
    bool label_io = false, unbuffered = false, dry_run = false;
    /// Tasks that read stdin from the job's input log (flux run), or empty.
    std::string stdin_log_ranks;

    /// Register the options on `app`. With `slots` (flux batch, flux alloc),
    /// -n/-c/-g count slots and cores/GPUs per slot, and the per-resource
    /// options are left out.
    void add_to(CLI::App& app, bool slots = false);
    /// Submit flags (waitable=2, debug=1, novalidate=4) from --flags.
    Result<int> flag_bits() const;
    /// Build the jobspec for `command`. `cc` (>= 0) substitutes "{cc}" in
    /// the command, output paths and job name, and sets FLUX_JOB_CC.
    Result<nlohmann::json> jobspec(const std::vector<std::string>& command, int cc = -1) const;
    /// True when "{cc}" appears where jobspec() substitutes it: copies of
    /// the job then differ in more than FLUX_JOB_CC.
    bool uses_cc(const std::vector<std::string>& command) const;
};

}  // namespace flux::cmd
