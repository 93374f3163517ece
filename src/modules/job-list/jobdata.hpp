// One job as job-list keeps it: a compact record (numbers and short
// strings, no JSON trees) built from the job's RFC 21 events as the job
// manager's journal delivers them, and its encoding as a job-list.list
// entry with flux-core's attribute names. Protocol: doc/dev/job-list.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include <flux/error.hpp>
#include <flux/jobstate.hpp>

namespace flux::joblist {

using JobId = std::uint64_t;

inline constexpr std::uint32_t userid_unknown = 0xFFFFFFFFu;

/// What job-list reports from a jobspec. Jobs submitted with the same
/// jobspec share one (bulk submissions cost one copy).
struct SpecInfo {
    std::string name;  ///< attributes.system.job.name, else basename of command[0]
    std::string cwd, queue, project, bank;
    double duration = -1;              ///< seconds (0: unlimited); < 0 when the jobspec is invalid
    std::int32_t ntasks = -1;          ///< < 0: unknown until R is known (per-resource) or invalid
    std::int32_t ncores = -1;          ///< < 0: unknown until R is known (exclusive nodes)
    std::int32_t nnodes = -1;          ///< < 0: no node count requested
    std::uint32_t tasks_per_node = 0;  ///< per-resource "node": ntasks = nnodes(R) * this
    std::uint32_t tasks_per_core = 0;  ///< per-resource "core" with nodes: ntasks = ncores(R) * this
};

/// Reduce a jobspec (as flux-core's job-list does; an invalid jobspec
/// gives whatever could be read, as there). Never throws.
std::shared_ptr<const SpecInfo> reduce_jobspec(const nlohmann::json& jobspec);

/// What job-list reports from R.
struct RInfo {
    std::string ranks;     ///< idset, bracketed when more than one ("[0-3]")
    std::string nodelist;  ///< RFC 29 hostlist
    std::int32_t nnodes = 0;
    std::int32_t ncores = 0;
    std::int32_t ngpus = 0;
    double expiration = 0;  ///< 0: none
};

/// Reduce an R (RFC 20). Errors: EINVAL naming what is wrong.
Result<RInfo> reduce_R(const nlohmann::json& R);

/// Outstanding dependencies (a "grudge set": a description once removed
/// cannot be added again, as flux-core's grudgeset).
struct Dependencies {
    std::vector<std::string> current;
    std::vector<std::string> removed;
};

/// The record of one job (well under 1 KiB; strings are usually in place).
struct Job {
    JobId id = 0;
    std::uint32_t userid = userid_unknown;
    std::int32_t urgency = -1;
    std::int64_t priority = 0;  ///< FLUX_JOB_PRIORITY_MIN until a priority event
    std::int32_t submit_version = 0;
    JobState state = JobState::NEW;
    std::uint8_t states_mask = static_cast<std::uint8_t>(JobState::NEW);  ///< states entered
    std::uint8_t events_mask = static_cast<std::uint8_t>(JobState::NEW);  ///< transitions seen
    bool success = false;
    bool exception_occurred = false;
    JobResult result = JobResult::FAILED;
    std::int32_t exception_severity = -1;
    std::int32_t wait_status = -1;                       ///< < 0: none
    std::int32_t ntasks = -1, ncores = -1, nnodes = -1;  ///< < 0: unknown
    double t_submit = 0, t_depend = 0, t_run = 0, t_cleanup = 0, t_inactive = 0;
    double expiration = -1;                ///< < 0: unknown
    std::shared_ptr<const SpecInfo> spec;  ///< null until the submit event carried a jobspec
    std::string ranks, nodelist;
    std::string exception_type, exception_note;
    std::string annotations;             ///< compact JSON object, "" when none
    std::unique_ptr<Dependencies> deps;  ///< null until a dependency-add

    bool has(JobState s) const { return (states_mask & static_cast<std::uint8_t>(s)) != 0; }
    /// Apply a reduced jobspec / R (ntasks/ncores/nnodes as flux-core derives them).
    void set_spec(std::shared_ptr<const SpecInfo> s);
    void set_R(const RInfo& r);
};

/// flux-core's job-list attribute names, in its order ("all" is all of them).
const std::vector<std::string_view>& job_attrs();
bool is_job_attr(std::string_view name);

/// Append `job` as a JSON object {"id":ID, ATTR:VALUE...} to `out`, with
/// flux-core's rules for which attributes a job has in its current state
/// (e.g. no "t_run" before RUN, no "priority" before SCHED). `attrs` holds
/// valid names or "all". Errors: EINVAL "X is not a valid attribute".
Result<void> encode_job(const Job& job, const std::vector<std::string>& attrs, std::string& out);

/// A JSON number with flux-core's (jansson's) look for reals: "12.5", "3.0".
std::string json_real(double v);

}  // namespace flux::joblist
