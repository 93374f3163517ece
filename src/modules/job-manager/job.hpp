// One job as the job manager tracks it while it is active (RFC 21).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <flux/jobstate.hpp>

namespace flux::jobmgr {

using JobId = std::uint64_t;

using State = JobState;

/// Job flags (flux-core's FLUX_JOB_* submit flags).
namespace jobflag {
inline constexpr int debug = 1;
inline constexpr int waitable = 2;
inline constexpr int novalidate = 4;
}  // namespace jobflag

/// A jobspec as submitted, shared by every job submitted with the same text.
struct Spec {
    std::string text;        ///< full jobspec JSON
    std::string sched_text;  ///< what the scheduler needs: resources, tasks, duration
    std::string list_text;   ///< the text less environment and files: the journal's copy for job-list
    std::uint32_t ntasks = 0;
    std::vector<std::pair<std::string, std::string>> dependencies;  ///< (scheme, value)
};

struct Dependency {
    std::string scheme;  ///< after, afterok, afternotok, afterany
    JobId target = 0;
    std::string description;  ///< "afterok:ƒXXXX" as submitted
};

struct Job {
    JobId id = 0;
    std::uint32_t userid = 0;
    int urgency = 16;
    std::uint32_t priority = 0;
    int flags = 0;
    State state = State::NEW;
    double t_submit = 0;
    std::shared_ptr<const Spec> spec;  ///< dropped when the job goes inactive

    std::string R;                            ///< the allocation, while held
    std::array<std::uint32_t, 4> next_seq{};  ///< next sequence number of each Log

    bool alloc_pending = false;  ///< sched.alloc sent, not answered
    bool has_resources = false;  ///< alloc succeeded, free not yet done
    bool free_pending = false;
    bool exec_running = false;  ///< job-exec.start sent, final release not seen
    bool started = false;       ///< exec reported "start"
    bool finished = false;      ///< exec reported "finish"
    bool exec_killing = false;  ///< exec raised the exception and stops the job itself
    int wait_status = -1;

    bool fatal = false;     ///< a severity-0 exception was raised
    bool unstored = false;  ///< its submission was lost with a failed commit: keep it out of the store
    std::string fatal_type;
    std::string fatal_note;

    std::vector<Dependency> deps;  ///< unresolved dependencies
    nlohmann::json annotations;    ///< null when none
};

}  // namespace flux::jobmgr
