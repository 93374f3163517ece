// Job states and results (RFC 21), with the values, names and
// abbreviations flux-core uses (FLUX_JOB_STATE_*, FLUX_JOB_RESULT_*,
// flux_job_statetostr(), flux_job_resulttostr()).
#pragma once

#include <cstdint>
#include <string_view>

#include "flux/error.hpp"

namespace flux {

/// RFC 21 job states; each value is one bit so sets of states fit a mask.
enum class JobState : std::uint32_t {
    NEW = 1,
    DEPEND = 2,
    PRIORITY = 4,
    SCHED = 8,
    RUN = 16,
    CLEANUP = 32,
    INACTIVE = 64,
};

/// State masks (flux-core's FLUX_JOB_STATE_PENDING/RUNNING/ACTIVE).
inline constexpr std::uint32_t job_state_pending = 2 | 4 | 8;  // DEPEND|PRIORITY|SCHED
inline constexpr std::uint32_t job_state_running = 16 | 32;    // RUN|CLEANUP
inline constexpr std::uint32_t job_state_active = job_state_pending | job_state_running;

/// Result of an inactive job.
enum class JobResult : std::uint32_t {
    COMPLETED = 1,
    FAILED = 2,
    CANCELED = 4,
    TIMEOUT = 8,
};

/// How to name a state or result (flux-core's "L", "l", "S", "s" formats).
enum class NameForm {
    upper,        ///< "RUN", "COMPLETED"
    lower,        ///< "run", "completed"
    short_upper,  ///< "R", "CD"
    short_lower,  ///< "r", "cd"
};

/// The state a job enters when `event` is appended to its eventlog in state
/// `state` (RFC 21): validate -> DEPEND, depend -> PRIORITY, priority (in
/// PRIORITY) -> SCHED, flux-restart (in SCHED) -> PRIORITY, alloc -> RUN,
/// finish (in RUN) -> CLEANUP, a fatal (severity 0) exception before
/// CLEANUP -> CLEANUP, clean -> INACTIVE. Any other event leaves the state
/// as it is. `fatal`: the event is an exception of severity 0.
JobState job_state_after(JobState state, std::string_view event, bool fatal = false);

/// Name of `state`; "(unknown)" or "?" for a value that is not a state.
std::string_view job_state_name(JobState state, NameForm form = NameForm::upper);

/// State from any form job_state_name() produces, case-insensitive
/// ("run", "RUN", "R", "r", "Run"). Errors: EINVAL "unknown job state 'X'".
Result<JobState> parse_job_state(std::string_view name);

/// Name of `result`; abbreviations are "CD", "F", "CA", "TO".
std::string_view job_result_name(JobResult result, NameForm form = NameForm::upper);

/// Result from any form job_result_name() produces, case-insensitive.
/// Errors: EINVAL "unknown job result 'X'".
Result<JobResult> parse_job_result(std::string_view name);

}  // namespace flux
