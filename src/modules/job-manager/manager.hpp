// The job manager: owns every active job, moves it through the RFC 21
// states, persists jobspecs, R and eventlogs (jobdb.hpp) and talks to the
// scheduler (RFC 27), the execution service (doc/dev/exec.md) and watchers
// (doc/dev/job-manager.md).
//
// Everything this module sends goes through the outbox and leaves only
// after the job store has committed, once per reactor loop iteration: an
// acknowledgement or event never gets ahead of what is on disk.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <flux/handle.hpp>

#include "job.hpp"
#include "jobdb.hpp"

namespace flux::jobmgr {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;  // event contexts keep their key order

/// Append one events-journal record {"id", "entry"<extra>} to a
/// comma-separated batch (`extra`: "" or ',"jobspec":...' / ',"R":...').
void add_journal_record(std::string& batch, JobId id, std::string_view entry, std::string_view extra);

class JobManager {
public:
    JobManager(Handle& h, std::unique_ptr<JobDb> db);
    ~JobManager();

    // --- requests (handler table in job-manager.cpp) ---
    void submit(const Message& m);  // submit.cpp
    void raise(const Message& m);
    void raiseall(const Message& m);
    void kill(const Message& m);
    void urgency(const Message& m);
    void memo(const Message& m);
    void wait(const Message& m);
    void sched_hello(const Message& m);  // alloc.cpp
    void sched_ready(const Message& m);
    void alloc_response(const Message& m);
    void free_response(const Message& m);
    void exec_response(const Message& m);  // start.cpp (job-exec.start stream)
    void lookup(const Message& m);         // info.cpp
    void eventlog_watch(const Message& m);
    void watch_cancel(const Message& m);
    void output_append(const Message& m);
    void journal(const Message& m);
    Result<void> replay_journal(const Message& m);
    void list(const Message& m);
    void queue_status(const Message& m);  // queue.cpp
    void queue_enable(const Message& m);
    void queue_start(const Message& m);
    void queue_drain(const Message& m);
    void queue_idle(const Message& m);
    void getinfo(const Message& m);
    void disconnect(const Message& m);
    void quiesce(const Message& m);  // restart.cpp

    /// Take up the active jobs a previous run left in the store: pending
    /// jobs are queued again, running ones (their processes died with that
    /// run) fail, and those cleaning up finish. Called once, at start.
    void restart();

    /// Commit the store, then send everything queued. Runs before the
    /// reactor blocks.
    void flush();
    void store_failed(const std::string& why);

private:
    friend struct Access;
    // --- events and states (event.cpp) ---
    void post(Job& job, const std::string& name, const ojson& context = ojson::object());
    /// Journal-only event (not persisted, not in the eventlog): annotations.
    void journal_only(Job& job, const std::string& name, const json& context);
    void clear_annotations(Job& job);
    void post_text(Job& job, const std::string& name, const std::string& context_text);
    void advance(Job& job);
    void enter_inactive(Job& job);
    JobResult result_of(const Job& job) const;
    void notify(JobId id, Log log, const std::string& entry);
    void fatal_exception(Job& job, const std::string& type, const std::string& note, std::uint32_t userid);

    // --- scheduler (alloc.cpp) ---
    void request_alloc(Job& job);
    void request_free(Job& job);
    void cancel_alloc(Job& job);
    void sched_lost(const std::string& why);
    void alloc_all();

    // --- exec (start.cpp) ---
    void start_exec(Job& job);
    void kill_exec(Job& job, int signum);

    // --- dependencies (submit.cpp) ---
    void resolve_deps(Job& job);
    void evaluate_deps(Job& job);
    /// The result of an inactive job, from memory or the store (restart.cpp).
    std::optional<JobResult> stored_result(JobId id);
    void check_dependents(const Job& target, bool started);

    // --- queue (queue.cpp) ---
    void check_queue_waiters();
    void check_quiesced();

    // --- helpers ---
    void out(Message msg);
    void respond(const Message& req, std::string payload = "{}");
    void respond_error(const Message& req, int errnum, std::string text);
    Job* find(JobId id);
    bool may_access(const Message& m, std::uint32_t owner) const;
    Job* active_job(const Message& m, JobId id, const char* denied);
    std::optional<std::uint32_t> readable_job(const Message& m, JobId id, const char* denied);
    std::shared_ptr<const Spec> intern(const std::string& text, const json* facts, std::string& err);

    Handle& h_;
    std::unique_ptr<JobDb> db_;
    WatcherPtr prepare_;
    std::unordered_map<JobId, std::unique_ptr<Job>> jobs_;  // active jobs
    std::vector<JobId> uncommitted_;                        // jobs submitted since the last commit
    std::vector<Message> outbox_;
    std::vector<JobId> reap_;                          // inactive jobs to drop at the next flush
    std::vector<std::function<void()>> after_commit_;  // RPCs whose futures we keep
    std::shared_ptr<const Spec> last_spec_;            // intern cache: bulk submissions share a text
    JobId max_id_ = 0;

    // finished jobs: result per id (for dependencies and wait)
    std::unordered_map<JobId, JobResult> results_;
    struct Zombie {
        bool success;
        std::string errstr;
        std::uint32_t userid;
    };
    std::unordered_map<JobId, Zombie> zombies_;                 // waitable jobs not yet waited for
    std::vector<std::pair<Message, JobId>> waiters_;            // JobId 0: any
    std::unordered_map<JobId, std::vector<JobId>> dependents_;  // target -> jobs waiting on it

    // scheduler
    bool sched_ready_ = false;
    std::string sched_route_;  // first hop of the scheduler's requests

    // watchers
    struct Watch {
        Message req;
        Log log;
    };
    std::unordered_map<JobId, std::vector<Watch>> watches_;
    std::vector<Message> journals_;
    std::string journal_batch_;  // comma-separated entries not yet sent

    // queue
    bool queue_enabled_ = true;
    std::string queue_disable_reason_;
    bool queue_started_ = true;
    std::string queue_stop_reason_;
    std::vector<Message> drain_waiters_, idle_waiters_;
    bool quiescing_ = false;  // the instance is shutting down: start nothing more
    std::vector<Message> quiesce_waiters_;
    std::size_t nactive_ = 0;            // jobs not INACTIVE
    std::size_t nrunning_ = 0;           // jobs in RUN or CLEANUP
    std::size_t reaped_since_trim_ = 0;  // jobs freed since the last malloc_trim
};

}  // namespace flux::jobmgr
