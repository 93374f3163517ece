// A job as job-list returns it, with the fields flux jobs and flux pstree
// print, derived as flux-core's flux.job.info.JobInfo does (status,
// runtime, contextual_info, contextual_time, returncode, inactive_reason,
// annotations.*, ...). Pure: the caller supplies "now".
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include <flux/error.hpp>

#include "format.hpp"

#include <flux/handle.hpp>

namespace flux::cmd {

struct JobInfo {
    std::uint64_t id = 0;
    bool root = false;  ///< flux pstree's enclosing instance: id.* print "."
    std::optional<std::uint32_t> userid;
    std::optional<long long> urgency, priority;
    std::optional<std::uint32_t> state, result;
    std::optional<double> t_submit;
    double t_depend = 0, t_run = 0, t_cleanup = 0, t_inactive = 0, duration = 0, expiration = 0;
    std::string name, cwd, queue, project, bank, ranks, nodelist;
    std::optional<long long> ntasks, ncores, nnodes, waitstatus;
    std::optional<bool> success, exception_occurred;
    std::optional<long long> exception_severity;
    std::optional<std::string> exception_type, exception_note;
    std::shared_ptr<const nlohmann::ordered_json> annotations;  ///< null or an object
    std::vector<std::string> dependencies;

    /// From one job object of a job-list response. Errors: EPROTO if it is
    /// not an object with an integer "id".
    static Result<JobInfo> from_json(const nlohmann::ordered_json& j);
};

/// Heading of a field flux jobs knows (flux-core's JobInfoFormat.headings,
/// plus annotations.*, sched.*, user.*); nullopt for an unknown field.
std::optional<std::string> job_heading(const std::string& field);

/// job-list attributes the fields need (flux.job.info.job_fields_to_attrs).
std::set<std::string> job_fields_to_attrs(const std::vector<std::string>& fields);

/// The value of `field` for formatting (Python's getattr on JobInfo).
FieldValue job_field(const JobInfo& job, const std::string& field, double now);

/// A Row with every field of `fields`.
Row job_row(const JobInfo& job, const std::vector<std::string>& fields, double now);

std::string job_state_str(const JobInfo& job, bool abbrev = false);
std::string job_status(const JobInfo& job, bool abbrev = false);
double job_runtime(const JobInfo& job, double now);
std::string job_contextual_info(const JobInfo& job, double now);
FieldValue job_contextual_time(const JobInfo& job, double now);
FieldValue job_returncode(const JobInfo& job);
std::string job_inactive_reason(const JobInfo& job);
std::string username_of(std::uint32_t uid);

/// JobInfo.to_dict() as Python's json.dumps() prints it (flux jobs --json).
std::string job_to_json(const JobInfo& job, double now);
/// Python's json.dumps() of a JSON value (", " and ": " separators, ASCII).
std::string py_json(const nlohmann::ordered_json& j);

/// flux-core's JobList.add_filter: OR a state name (depend, priority, sched,
/// run, cleanup, inactive, pending, running, active) or a result name
/// (completed, failed, canceled, timeout), in any case, into the masks.
/// False for any other name.
bool add_filter(const std::string& name, std::uint32_t& states, std::uint32_t& results);
/// Append to the job-list constraint terms `all` the states/results masks
/// from add_filter: either matches when both are set, nothing when neither.
void add_state_constraint(nlohmann::ordered_json& all, std::uint32_t states, std::uint32_t results);
/// The URI of a running job that is a Flux instance (its "uri" memo), or "".
std::string running_instance_uri(const JobInfo& job, double now);
/// Every argument split at its commas ("a,b" "c" -> a b c).
std::vector<std::string> split_commas(const std::vector<std::string>& args);

/// job-list.list-id for each id (any encoding), sent together; unknown or
/// failed ids are reported on stderr as flux-core does ("JobID X unknown"),
/// left out, and counted in *failed when given.
std::vector<JobInfo> fetch_jobs_by_id(Handle& h, const std::vector<std::string>& ids,
                                      const nlohmann::ordered_json& attrs, std::size_t* failed = nullptr);

}  // namespace flux::cmd
