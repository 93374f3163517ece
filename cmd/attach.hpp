// Follow a job to its end: print its output as it arrives and its fatal
// exceptions, and compute the exit code flux-core's `flux job attach`
// returns. Used by flux run, flux job attach and flux submit --watch.
#pragma once

#include <cstdint>
#include <string>

#include <flux/handle.hpp>

namespace flux::cmd {

struct AttachOptions {
    bool label = false;         ///< prefix output lines with "RANK: "
    bool show_events = false;   ///< print eventlog entries on stderr
    bool read_only = false;     ///< do not forward signals
    bool quiet_output = false;  ///< follow the job without printing its output
    std::string wait_event = "clean";
    bool forward_stdin = false;       ///< send our stdin to the job's input log
    std::string stdin_ranks = "all";  ///< the tasks that get it (idset or "all")
    bool raw_tty = false;             ///< the job's task has a pty: put our terminal in raw mode
};

/// True when fd 0 is /dev/null or closed: nothing to forward.
bool stdin_is_null();

/// Exit code of a job from its finish wait status: the task exit code, or
/// 128+signal; `msg` gets flux-core's explanation when nonzero.
int waitstatus_to_exitcode(int status, std::string& msg);

/// Attach to job `id` until its eventlog ends (or `wait_event` is seen) and
/// its output has been printed. Returns the job's exit code (1 for a job
/// that failed before it ran or could not be followed).
int attach(Handle& h, std::uint64_t id, const AttachOptions& opts);

}  // namespace flux::cmd
