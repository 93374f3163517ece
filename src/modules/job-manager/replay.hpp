// Reading a job back from its stored eventlog (RFC 21: replaying the
// eventlog reproduces the job's state). The job manager does this for every
// active job when it starts on a store that has them, and for an inactive
// job when a new job depends on it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <flux/error.hpp>
#include <flux/jobstate.hpp>

namespace flux::jobmgr {

/// What a job's eventlog says about it.
struct Replay {
    JobState state = JobState::NEW;
    std::uint32_t userid = 0;
    int urgency = 16;
    int flags = 0;
    std::uint32_t priority = 0;
    double t_submit = 0;
    bool allocated = false;  ///< alloc, and no free since
    bool started = false;
    bool finished = false;
    int wait_status = -1;
    bool fatal = false;  ///< a severity-0 exception; the first one's type and note
    std::string fatal_type;
    std::string fatal_note;
    std::vector<std::string> deps;  ///< dependency-add descriptions not yet removed
};

/// Replay `entries`, a job's eventlog one entry per element.
/// Errors: EPROTO when an entry is not an event or the log does not begin
/// with submit.
Result<Replay> replay_eventlog(const std::vector<std::string>& entries);

/// The result of a job that ended as its eventlog says (flux-core's rules:
/// the first fatal exception decides, cancel and timeout by name; otherwise
/// the wait status).
JobResult job_result(bool fatal, const std::string& fatal_type, int wait_status);

}  // namespace flux::jobmgr
